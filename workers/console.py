"""What the operator commands print: a saga and its history, the dead letters, replay progress.

Output goes through rich (tables, a live progress bar); ``console`` may be replaced (tests pass one
writing to a buffer).
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from kit.auth.settings import AuthSettings
from kit.grpc.tls import ClientTLS
from orders.ports import ApplyOutcome, RecordedEvent
from workers.container import build, close
from workers.settings import WorkerSettings


def show_saga(order_id: str, orders_db_url: str, console: Console | None = None) -> bool:
    """Print the saga of ``order_id`` and its transitions; False if there is none."""
    out = console or Console()
    container = build(WorkerSettings(orders_db_url=orders_db_url), service_name="saga-show")
    try:
        record = container.saga_store().get(order_id)
    finally:
        close(container)
    if record is None:
        return False
    final = " (final)" if record.state.final else ""
    out.print(f"[bold]order[/bold] {record.order_id}  [bold]state[/bold] {record.state.value}{final}"
              f"  [bold]order version[/bold] {record.order_version}")
    out.print(f"started {record.started_at.isoformat()}  updated {record.updated_at.isoformat()}")
    table = Table(title="history")
    for column in ("#", "recorded at", "handled", "event id", "state", "appended"):
        table.add_column(column, overflow="fold")
    for number, t in enumerate(record.history, 1):
        table.add_row(str(number), t.recorded_at.isoformat(), t.handled_event_type, t.handled_event_id,
                      t.state.value, ", ".join(t.actions) or "-")
    out.print(table)
    return True


def list_dead_letters(nats_url: str, stream: str = "DLQ", console: Console | None = None) -> int:
    """Print the dead letters waiting in ``stream``; how many there are."""
    from kit.nats import dead_letters

    out = console or Console()
    letters = dead_letters(nats_url, stream)
    table = Table(title=f"{len(letters)} dead letter{'s' if len(letters) != 1 else ''} in {stream}")
    for column in ("id", "consumer", "subject", "seq", "deliveries", "failed at", "reason", "event id"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(str(letter.id), letter.consumer, letter.subject, str(letter.stream_sequence),
                      str(letter.deliveries), letter.failed_at.isoformat() if letter.failed_at else "",
                      letter.reason, letter.headers.get("Event-Id", letter.headers.get("event-id", "")))
    out.print(table)
    return len(letters)


def run_replay(eventstore_addr: str, orders_db_url: str, page_size: int = 500,
               console: Console | None = None, auth: AuthSettings | None = None,
               client_tls: ClientTLS | None = None) -> dict[ApplyOutcome, int]:
    """Rebuild the read model at ``orders_db_url`` from the event store, showing progress."""
    from orders.schema import create_schema
    from workers.replay import replay_projection

    out = console or Console()
    container = build(WorkerSettings(orders_db_url=orders_db_url, eventstore_addr=eventstore_addr,
                                     eventstore_timeout=30.0, auth=auth or AuthSettings(),
                                     client_tls=client_tls),
                    service_name="replay")
    columns = (SpinnerColumn(), TextColumn("[bold]replaying projection"), BarColumn(),
               MofNCompleteColumn(), TextColumn("position {task.fields[position]}"), TimeElapsedColumn())
    try:
        create_schema(container.engine())
        with Progress(*columns, console=out, transient=False) as progress:
            task = progress.add_task("replay", total=None, position=0)

            def advance(event: RecordedEvent, outcome: ApplyOutcome) -> None:
                progress.update(task, advance=1, position=event.position)

            counts = replay_projection(container.eventstore_client(), container.read_model(),
                                       page=page_size, progress=advance)
            done = sum(counts.values())
            progress.update(task, total=done, completed=done)
    finally:
        close(container)
    out.print(", ".join(f"{outcome.value}: {n}" for outcome, n in counts.items()))
    return counts
