"""YARN cluster mode: YARN applications through the ResourceManager REST API (status, lookup by tag, kill).

Endpoints (``yarn.resourcemanager.webapp.address``, the Spark connection extra
``yarn_resourcemanager_webapp_address``), from the ResourceManager REST API doc
(https://hadoop.apache.org/docs/stable/hadoop-yarn/hadoop-yarn-site/ResourceManagerRest.html):

- ``GET /ws/v1/cluster/apps/{id}`` answers ``{"app": {"id": ..., "state": ..., "finalStatus": ...,
  "applicationTags": "a,b", "startedTime": ms, ...}}``; an unknown ID answers 404 with
  ``{"RemoteException": {"exception": "NotFoundException", ...}}`` (the only answer taken as "lost").
- ``GET /ws/v1/cluster/apps?applicationTags=<tag>`` answers ``{"apps": {"app": [...]}}``, or
  ``{"apps": null}`` when no application matches.
- ``PUT /ws/v1/cluster/apps/{id}/state`` with ``{"state": "KILLED"}`` answers 202 (kill under way) or 200.

Requests go through ``requests`` (module-level calls, as upstream's hook makes them) with the hook's own
base URL and auth (``yarn_rm_auth``, or Kerberos through ``requests-kerberos``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

import requests

from airflow_durable import DurableJobError, JobLostError, JobState
from airflow_durable_spark.deployment import DeploymentMode
from airflow_durable_spark.statuses import YARN_APPLICATION_STATES, check_application_id

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from requests.auth import AuthBase

    from airflow_durable import StatusTable

WAIT_APP_COMPLETION_CONF = "spark.yarn.submit.waitAppCompletion"
TAGS_CONF = "spark.yarn.tags"
_SUBMITTED = re.compile(r"Submitted application (application_[0-9]{1,20}_[0-9]{1,10})\b")
"""``YarnClientImpl``'s ``Submitted application <id>``: the ResourceManager has the application from then on.

Spark's ``Client`` names the ID earlier (``Submitting application <id> to ResourceManager``, upstream's regex
catches that one), before it submits: an ID persisted then may never exist."""
_OUR_TAG = re.compile(r"^ad-[0-9a-f]{28}-g[0-9]+$")
"""A submission token (``airflow_durable.tokens``): replaced, never accumulated, in ``spark.yarn.tags``."""


class YarnResourceManagerUnavailableError(RuntimeError, ConnectionError):
    """The ResourceManager did not answer, answered 429 or 5xx, or is a standby: retry later, never resubmit."""


class YarnAnswerError(DurableJobError, RuntimeError):
    """A ResourceManager answer that is neither an application nor its NotFound reply.

    Not transient and never "lost": it says nothing about the application, which may still run, so the task
    fails without resubmitting. Usually something else answers on the address (a proxy, a login page), or
    the auth is refused (401, 403).
    """


def _excerpt(response: requests.Response) -> str:
    return repr(response.text[:300])


def _check_answer(response: requests.Response, what: str) -> Any:
    """Return the JSON body of a 2xx answer; raise the error class the other answers mean."""
    code = response.status_code
    if code >= 500 or code == 429:  # 429: a gateway in front of the RM (Knox, a load balancer) throttling
        raise YarnResourceManagerUnavailableError(
            f"ResourceManager answered HTTP {code} for {what}: {_excerpt(response)}"
        )
    if code >= 300:
        raise YarnAnswerError(f"ResourceManager answered HTTP {code} for {what}: {_excerpt(response)}")
    try:
        return response.json()
    except ValueError:
        if "standby" in response.text.lower():  # an HA standby's page: the active one answers after failover
            raise YarnResourceManagerUnavailableError(f"a standby ResourceManager answered {what}") from None
        raise YarnAnswerError(f"ResourceManager answer for {what} is not JSON: {_excerpt(response)}") from None


def _is_not_found(response: requests.Response) -> bool:
    """Whether a 404 is the ResourceManager's own NotFoundException (not a proxy's 404 page)."""
    try:
        body = response.json()
    except ValueError:
        return False
    remote = body.get("RemoteException") if isinstance(body, dict) else None
    return isinstance(remote, dict) and remote.get("exception") == "NotFoundException"


def application_status(base_url: str, application_id: str, *, auth: AuthBase | None, timeout_seconds: float) -> str:
    """Return ``"<state>/<finalStatus>"`` of one application (``GET /ws/v1/cluster/apps/{id}``).

    Args:
        base_url: The ResourceManager webapp URL, e.g. ``http://rm:8088``.
        application_id: A validated application ID.
        auth: The requests auth (``None``: none).
        timeout_seconds: Connect and read timeout.

    Returns:
        The raw status, e.g. ``"RUNNING/UNDEFINED"``.

    Raises:
        JobLostError: The ResourceManager answered 404 NotFoundException.
        YarnResourceManagerUnavailableError: 5xx or a standby (transient); ``requests`` raises its
            ``ConnectionError``/``Timeout`` (transient too).
        YarnAnswerError: Any other answer (another status code, a body that is not this application's).
    """
    check_application_id(application_id)
    response = requests.get(
        f"{base_url}/ws/v1/cluster/apps/{application_id}",
        auth=auth,
        timeout=timeout_seconds,
        headers={"Accept": "application/json"},
    )
    if response.status_code == 404 and _is_not_found(response):
        raise JobLostError(application_id, f"the ResourceManager at {base_url} does not know it")
    body = _check_answer(response, application_id)
    app = body.get("app") if isinstance(body, dict) else None
    if not isinstance(app, dict) or app.get("id", application_id) != application_id:
        raise YarnAnswerError(f"not an answer about application {application_id}: {repr(body)[:300]}")
    state, final_status = app.get("state"), app.get("finalStatus")
    if not isinstance(state, str) or not isinstance(final_status, str) or not state or not final_status:
        raise YarnAnswerError(f"application {application_id} without state/finalStatus: {repr(body)[:300]}")
    return f"{state}/{final_status}"


def _tags(app: dict[str, Any]) -> set[str]:
    return {tag.strip().lower() for tag in str(app.get("applicationTags") or "").split(",") if tag.strip()}


def find_application_by_tag(base_url: str, tag: str, *, auth: AuthBase | None, timeout_seconds: float) -> str | None:
    """Return the ID of the application tagged ``tag`` (``GET /ws/v1/cluster/apps?applicationTags=``).

    Only applications whose ``applicationTags`` really contain ``tag`` count. Of several, an active one
    (``NEW`` to ``RUNNING``) wins, else the most recent ``startedTime``.

    Args:
        base_url: The ResourceManager webapp URL.
        tag: The tag (a submission token).
        auth: The requests auth.
        timeout_seconds: Connect and read timeout.

    Returns:
        The application ID, or ``None`` if no application carries the tag.

    Raises:
        YarnResourceManagerUnavailableError: 5xx or a standby (transient).
        YarnAnswerError: An answer that is not an application list.
    """
    response = requests.get(
        f"{base_url}/ws/v1/cluster/apps",
        params={"applicationTags": tag},
        auth=auth,
        timeout=timeout_seconds,
        headers={"Accept": "application/json"},
    )
    body = _check_answer(response, f"applications tagged {tag}")
    if not isinstance(body, dict) or "apps" not in body:
        raise YarnAnswerError(f"not an application list: {repr(body)[:300]}")
    apps = body["apps"]
    listed = [] if apps is None else apps.get("app") if isinstance(apps, dict) else None
    if listed is None:
        listed = []
    if not isinstance(listed, list):
        raise YarnAnswerError(f"not an application list: {repr(body)[:300]}")
    tagged = [app for app in listed if isinstance(app, dict) and tag.lower() in _tags(app)]
    if not tagged:
        return None

    def rank(app: dict[str, Any]) -> tuple[bool, int]:
        status = f"{app.get('state')}/{app.get('finalStatus')}"
        active = status in YARN_APPLICATION_STATES and YARN_APPLICATION_STATES.classify(status) is JobState.ACTIVE
        started = app.get("startedTime")
        return active, started if isinstance(started, int) else 0

    return check_application_id(max(tagged, key=rank).get("id"))


def kill_application(base_url: str, application_id: str, *, auth: AuthBase | None, timeout_seconds: float) -> None:
    """Ask the ResourceManager to kill an application (``PUT .../apps/{id}/state {"state": "KILLED"}``).

    Raises:
        YarnResourceManagerUnavailableError, YarnAnswerError: The request was not accepted (200 or 202).
    """
    check_application_id(application_id)
    response = requests.put(
        f"{base_url}/ws/v1/cluster/apps/{application_id}/state",
        json={"state": "KILLED"},
        auth=auth,
        timeout=timeout_seconds,
        headers={"Accept": "application/json"},
    )
    if response.status_code not in (200, 202):
        _check_answer(response, f"killing {application_id}")
        raise YarnAnswerError(f"ResourceManager answered HTTP {response.status_code} to killing {application_id}")


class YarnClusterMode(DeploymentMode):
    """YARN cluster deploy mode (``yarn`` master): the driver runs in the application master.

    External ID: the YARN application ID (``application_<clusterTimestamp>_<sequence>``). The token is
    one of the application tags (``spark.yarn.tags``), so a retry finds the application after a crash in
    the submit window. ``spark-submit`` exits once YARN accepted the application
    (``spark.yarn.submit.waitAppCompletion=false``); status and kill go to the ResourceManager REST API
    with the hook's base URL and auth.
    """

    name = "YARN cluster mode"
    id_name = "YARN application ID"
    missing_id_message = "spark-submit did not produce a YARN application ID"
    supports_token_lookup: ClassVar[bool] = True
    status_table: ClassVar[StatusTable] = YARN_APPLICATION_STATES

    def check(self) -> None:
        """Check the configuration before anything is submitted: upstream's errors, with upstream's texts.

        Raises:
            ValueError: ``spark.yarn.submit.waitAppCompletion=true``, or no ResourceManager address.
            RuntimeError: Kerberos credentials without ``requests-kerberos``.
        """
        if str(self.hook._conf.get(WAIT_APP_COMPLETION_CONF, "")).strip().lower() == "true":
            raise ValueError(
                "spark.yarn.submit.waitAppCompletion=true cannot be set for cluster mode as it conflicts "
                "with the need to exit spark-submit immediately to persist the application ID for tracking. "
                "Either remove the explicit conf or set durable=False."
            )
        self.hook._validate_yarn_track_via_rm_api_config()

    @property
    def base_url(self) -> str:
        """The ResourceManager webapp URL (the hook's, from the connection)."""
        return self.hook._get_yarn_rm_base_url()

    @property
    def auth(self) -> AuthBase | None:
        """The hook's ResourceManager auth (``yarn_rm_auth``, or Kerberos)."""
        return self.hook._resolved_yarn_rm_auth

    def prepare(self, token: str | None) -> None:
        """Set ``waitAppCompletion=false`` and put ``token`` into ``spark.yarn.tags`` (user tags kept)."""
        self.check()
        conf = self.hook._conf
        conf[WAIT_APP_COMPLETION_CONF] = "false"
        if token is not None:
            tags = [t.strip() for t in str(conf.get(TAGS_CONF) or "").split(",") if t.strip()]
            tags = [t for t in tags if not _OUR_TAG.fullmatch(t)] + [token]
            conf[TAGS_CONF] = ",".join(tags)

    _submitted: str | None = None

    def parse_line(self, line: str) -> None:
        """Read ``Submitted application <id>`` (the application exists from then on)."""
        match = _SUBMITTED.search(line)
        if match:
            self._submitted = match.group(1)

    def captured_id(self) -> str | None:
        """The application ID once ``spark-submit`` printed that YARN has it (``Submitted application <id>``)."""
        return self._submitted

    def submitted_id(self, returned: str | None) -> str | None:
        """After a successful ``spark-submit``: the submitted ID, else the one the hook parsed."""
        return self._submitted or self.hook._yarn_application_id

    def validate(self, external_id: object) -> str:
        """Accept a YARN application ID (see ``check_application_id``)."""
        return check_application_id(external_id)

    def status(self, external_id: str, context: Context) -> str:
        """``"<state>/<finalStatus>"`` from the ResourceManager; ``JobLostError`` on its NotFound."""
        return application_status(
            self.base_url, external_id, auth=self.auth, timeout_seconds=self.status_timeout_seconds
        )

    def find_by_token(self, token: str) -> str | None:
        """The application tagged ``token`` (see :func:`find_application_by_tag`)."""
        return find_application_by_tag(
            self.base_url, token, auth=self.auth, timeout_seconds=self.status_timeout_seconds
        )

    def cancel(self, external_id: str, timeout_seconds: float) -> None:
        """Kill through the ResourceManager, one request bounded by ``timeout_seconds``."""
        kill_application(
            self.base_url,
            external_id,
            auth=self.auth,
            timeout_seconds=min(timeout_seconds, self.status_timeout_seconds),
        )

    def attach(self, external_id: str) -> None:
        """Set ``hook._yarn_application_id``."""
        self.hook._yarn_application_id = check_application_id(external_id)

    def result(self, external_id: str) -> dict[str, str]:
        """``{"application_id": id, "final_status": "SUCCEEDED"}``."""
        return {"application_id": check_application_id(external_id), "final_status": "SUCCEEDED"}

    def is_transient(self, error: Exception) -> bool:
        """Unreachable or standby ResourceManagers, 429, 5xx and timeouts."""
        return isinstance(error, YarnResourceManagerUnavailableError | requests.ConnectionError | requests.Timeout)
