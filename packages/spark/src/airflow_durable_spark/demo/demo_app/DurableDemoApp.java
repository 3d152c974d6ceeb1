// Demo Spark application for airflow-durable end-to-end tests.
//
// Usage: DurableDemoApp <seconds> <n>
//
// Computes the sum of squares of 1..n with a real Spark job (an RDD over n split into ranges, run on the
// executors), keeps the driver alive so that the whole driver JVM lasts about <seconds> (never less than
// the job itself takes), prints the result and exits 0 (1 when the result is wrong, 2 on bad arguments).
//
// Compiled with Janino (no javac needed), so the syntax stays simple: no lambdas and no generics (Janino
// erases type arguments, so values are cast explicitly); functions are static nested classes.

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.sql.SparkSession;

public class DurableDemoApp {

    /** Maps a range {start, endExclusive} to the sum of the squares of its numbers. */
    public static class SumOfSquares implements Function {
        public Object call(Object range) {
            long[] bounds = (long[]) range;
            long total = 0L;
            for (long i = bounds[0]; i < bounds[1]; i++) {
                total += i * i;
            }
            return Long.valueOf(total);
        }
    }

    /** Adds two boxed longs. */
    public static class Add implements Function2 {
        public Object call(Object a, Object b) {
            return Long.valueOf(((Long) a).longValue() + ((Long) b).longValue());
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: DurableDemoApp <seconds> <n>");
            System.exit(2);
        }
        double seconds = Double.parseDouble(args[0]);
        long n = Long.parseLong(args[1]);
        long jvmStartMillis = ManagementFactory.getRuntimeMXBean().getStartTime();

        SparkSession spark = SparkSession.builder().appName("DurableDemoApp").getOrCreate();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int slices = 4;
        long chunk = n / slices + 1;
        List ranges = new ArrayList();
        for (long start = 1; start <= n; start += chunk) {
            ranges.add(new long[] {start, Math.min(start + chunk, n + 1)});
        }
        JavaRDD rdd = jsc.parallelize(ranges, slices);
        long result = ranges.isEmpty() ? 0L : ((Long) rdd.map(new SumOfSquares()).reduce(new Add())).longValue();
        long expected = n * (n + 1) * (2 * n + 1) / 6;

        long remainingMillis = (long) (seconds * 1000.0) - (System.currentTimeMillis() - jvmStartMillis);
        if (remainingMillis > 0) {
            Thread.sleep(remainingMillis);
        }
        System.out.println("DurableDemoApp: sum of squares of 1.." + n + " = " + result);
        spark.stop();
        if (result != expected) {
            System.err.println("DurableDemoApp: expected " + expected + " but Spark computed " + result);
            System.exit(1);
        }
    }
}
