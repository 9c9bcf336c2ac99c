"""The Label Studio round trip: send samples to a project on a Label Studio server, pull labels back.

``send_to_label_studio`` creates (or finds, by its title) one Label Studio project per run and
split, and adds the samples as tasks: the text, the current label as a prediction of model
version "dq" scored by its DEP. Samples sent before are updated, never duplicated (a task carries
its sample's id). ``pull_labels`` reads the finished annotations (cancelled ones skipped, the
latest per task) and adds each changed label to the edits cart as a relabel whose author is the
annotator, one batch per annotator; pulling again adds nothing new.

The server and its API key come from the environment (``LABEL_STUDIO_URL``,
``LABEL_STUDIO_API_KEY``) or the ``[label_studio]`` section of ``dq serve``'s auth config, never
from a page. No message here ever holds the key. Needs ``label-studio-sdk``
(``pip install 'dq-studio[labelstudio]'``). Pure library: no streamlit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dq.edits.apply import current_samples
from dq.edits.export import FROM_NAME, label_studio_config, label_studio_tasks
from dq.edits.model import RELABEL, Change, run_key
from dq.edits.store import EditsCart
from dq.errors import DQError, MissingExtraError, ValidationError
from dq.store.reader import Run
from dq.team import EDIT, require_role

URL_ENV, KEY_ENV = "LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"
#: The auth config's section with ``url`` and ``api_key``.
SECTION = "label_studio"
#: Tasks sent per request.
IMPORT_CHUNK = 1000
TIMEOUT_S = 60.0


class LabelStudioError(DQError):
    """The Label Studio server cannot be reached, refuses the key, or answers what dq cannot use."""


@dataclass(frozen=True)
class LabelStudioServer:
    """Where the server is and the key to it (the key is left out of ``repr``)."""

    url: str
    api_key: str = field(repr=False)

    @classmethod
    def from_settings(
        cls, env: Mapping[str, str] | None = None, config: Mapping[str, Any] | None = None
    ) -> LabelStudioServer | None:
        """The server the environment names (``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY``),
        else the ``[label_studio]`` section of an auth config (``url``, ``api_key``), else None.

        >>> LabelStudioServer.from_settings({"LABEL_STUDIO_URL": "http://ls:8080", "LABEL_STUDIO_API_KEY": "k"})
        LabelStudioServer(url='http://ls:8080')
        """
        env = os.environ if env is None else env
        section = (config or {}).get(SECTION) or {}
        url = env.get(URL_ENV) or section.get("url")
        key = env.get(KEY_ENV) or section.get("api_key")
        if not url and not key:
            return None
        if not (isinstance(url, str) and url.startswith(("http://", "https://")) and isinstance(key, str) and key):
            raise ValidationError(
                f"Label Studio needs both {URL_ENV} (an http(s) URL) and {KEY_ENV}, or url and api_key in "
                f"[{SECTION}] of the auth config."
            )
        return cls(url.rstrip("/"), key)


@dataclass(frozen=True)
class SendResult:
    project_id: int
    project_url: str
    created: int
    updated: int


@dataclass(frozen=True)
class PullResult:
    annotated: int  # tasks with a finished annotation
    relabeled: dict[str, int]  # annotator e-mail -> samples relabeled into the cart
    batches: list[str]  # the cart batches added (one per annotator)


def project_title(run: Run, split: str) -> str:
    """The title of the Label Studio project of ``split`` of ``run``: found again by it."""
    return f"dq {run_key(run)} {split}"


def _client(server: LabelStudioServer) -> Any:
    try:
        from label_studio_sdk import LabelStudio
    except ImportError:
        raise MissingExtraError("Label Studio needs label-studio-sdk: pip install 'dq-studio[labelstudio]'") from None
    return LabelStudio(base_url=server.url, api_key=server.api_key, timeout=TIMEOUT_S)


def _call(server: LabelStudioServer, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
    """``fn(*args, **kw)``, its failures one line that names the server but never the key."""
    try:
        return fn(*args, **kw)
    except DQError:
        raise
    except Exception as exc:  # noqa: BLE001 - httpx, the SDK's ApiError, pydantic: all said in one line
        status = getattr(exc, "status_code", None)
        if status in (401, 403):
            reason = f"it refused the API key ({status})"
        elif status is not None:
            reason = f"it answered {status}"
        else:
            reason = f"it cannot be reached ({type(exc).__name__})"
        raise LabelStudioError(f"Label Studio at {server.url} could not {what}: {reason}.") from None


def _project(client: Any, server: LabelStudioServer, run: Run, split: str, *, create: bool) -> Any:
    """The run's project (None when absent and ``create`` is False)."""
    title = project_title(run, split)
    found = [
        p for p in _call(server, "list projects", lambda: list(client.projects.list(title=title))) if p.title == title
    ]
    if found:
        return found[0]
    if not create:
        return None
    config = label_studio_config(list(run.labels))
    return _call(server, "create a project", client.projects.create, title=title, label_config=config)


def _tasks(client: Any, server: LabelStudioServer, project_id: int, *, annotations: bool) -> list[Any]:
    fields = "all" if annotations else None
    return _call(server, "list tasks", lambda: list(client.tasks.list(project=project_id, fields=fields)))


def send_to_label_studio(
    run: Run, split: str, samples: pd.DataFrame, *, server: LabelStudioServer, by: str, cart: EditsCart | None = None
) -> SendResult:
    """Send ``samples`` (id, text, label, dep: ``labelers_frame``) as tasks to the run's project on
    the server; tasks of samples sent before get the current text. In a team's home ``by`` must be
    an editor of the run's project."""
    cart = cart if cart is not None else EditsCart()
    require_role(cart.path.parent, by, run.project, EDIT)
    if samples.empty:
        raise ValidationError("Nothing to send: mark samples 'send to labelers' in the cart first.")
    tasks = label_studio_tasks(samples, class_names=list(run.labels))  # checks the labels first
    client = _client(server)
    project = _project(client, server, run, split, create=True)
    sent = {str(t.data.get("id")): t for t in _tasks(client, server, project.id, annotations=False)}
    new = [t for t in tasks if str(t["data"]["id"]) not in sent]
    updated = 0
    for task in tasks:
        old = sent.get(str(task["data"]["id"]))
        if old is not None and old.data.get("text") != task["data"]["text"]:
            _call(server, "update a task", client.tasks.update, id=str(old.id), data={**old.data, **task["data"]})
            updated += 1
    for start in range(0, len(new), IMPORT_CHUNK):
        _call(
            server,
            "import tasks",
            client.projects.import_tasks,
            id=project.id,
            request=new[start : start + IMPORT_CHUNK],
        )
    return SendResult(project.id, f"{server.url}/projects/{project.id}", len(new), updated)


def pull_labels(
    run: Run, split: str, *, server: LabelStudioServer, by: str, cart: EditsCart | None = None
) -> PullResult:
    """Add the labels annotators chose on the server to the cart, as relabels authored by each
    annotator (``by``, who pulls them, must be an editor in a team's home). A label equal to the
    sample's current one (or pulled before) adds nothing; a label the run does not know is refused."""
    cart = cart if cart is not None else EditsCart()
    require_role(cart.path.parent, by, run.project, EDIT)
    client = _client(server)
    project = _project(client, server, run, split, create=False)
    if project is None:
        raise ValidationError(f"Nothing to pull: no Label Studio project {project_title(run, split)!r} (send first).")
    chosen = dict(_annotations(_tasks(client, server, project.id, annotations=True), client, server))
    current = current_samples(run, split, cart.active(run_key(run), split))
    labels = dict(zip(current["id"].astype(str), current["label"]))
    per_annotator: dict[str, list[Change]] = {}
    for sample_id, (label, annotator) in chosen.items():
        if sample_id not in labels or labels[sample_id] == label:
            continue
        if label not in run.labels:
            raise ValidationError(
                f"Label Studio gave sample {sample_id!r} the label {label!r}, not one of {run.labels}."
            )
        per_annotator.setdefault(annotator, []).append(Change(sample_id, RELABEL, labels[sample_id], label))
    batches = [cart.add(run, split, changes, author=who, by=by) for who, changes in sorted(per_annotator.items())]
    return PullResult(len(chosen), {who: len(c) for who, c in sorted(per_annotator.items())}, batches)


def _annotations(tasks: Iterable[Any], client: Any, server: LabelStudioServer) -> Iterable[tuple[str, tuple[str, str]]]:
    """(sample id, (chosen label, annotator's e-mail)) of every task with a finished annotation."""
    emails: dict[int, str] = {}
    for task in tasks:
        done = [a for a in (task.annotations or []) if not _get(a, "was_cancelled")]
        if not done:
            continue
        latest = max(done, key=lambda a: (str(_get(a, "updated_at") or ""), int(_get(a, "id") or 0)))
        choice = next(
            (r["value"]["choices"][0] for r in _get(latest, "result") or [] if r.get("from_name") == FROM_NAME),
            None,
        )
        if choice is None:
            continue
        who = _get(latest, "completed_by")
        if isinstance(who, Mapping) and who.get("email"):
            email = str(who["email"])
        else:
            user_id = int(who["id"] if isinstance(who, Mapping) else who)
            if user_id not in emails:
                emails[user_id] = str(_call(server, "read a user", client.users.get, id=user_id).email)
            email = emails[user_id]
        yield str(task.data.get("id")), (str(choice), email)


def _get(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)
