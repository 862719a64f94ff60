"""Reports that arrive together are stored together (one batch), each with its own answer."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from app.db.pool import IntakeDatabase
from app.errors import (
    ConflictError,
    InvalidInputError,
    OutsideCoverageError,
    UnavailableError,
    UnknownClassError,
)
from app.schemas.events import EventCreate
from app.services.intake.reports import ReportQueue
from tests import small_district as sd


def _report(x: float, y: float, code: str = "0102", **extra) -> EventCreate:
    lon, lat = sd.lonlat(x, y)
    return EventCreate(
        class_kind=extra.pop("class_kind", "event"),
        class_code=code,
        lon=lon,
        lat=lat,
        source="supervisor",
        reporter="监督员 张三",
        **extra,
    )


def _together(settings, *stored_first: EventCreate, batch: list[EventCreate]) -> tuple[list, int]:
    """Store ``stored_first`` one by one, then send ``batch`` at once; (answers, largest batch)."""

    async def scenario():
        db = IntakeDatabase(settings.database_url)
        await db.open()
        queue = ReportQueue(db, settings)
        try:
            for request in stored_first:
                await queue.create_event(request)
            answers = await asyncio.gather(
                *(queue.create_event(r) for r in batch), return_exceptions=True
            )
        finally:
            await asyncio.wait_for(queue.close(), timeout=5)
            await db.close()
        return answers, queue.largest_batch

    return asyncio.run(scenario())


def _stored(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT e.description, e.grid_code, e.idempotency_key, count(l.id) "
                "FROM event e LEFT JOIN case_log l ON l.event_id = e.id "
                "GROUP BY e.id ORDER BY e.id"
            )
        ).all()


def test_a_batch_answers_each_report_as_if_it_came_alone(engine, settings):
    sd.build(engine)
    earlier = _report(150, 50, idempotency_key="app-1", description="早先的")
    batch = [
        _report(30, 30, description="一"),
        _report(500, 500, description="区外"),
        _report(150, 150, description="二", idempotency_key="twin"),
        _report(30, 30, code="9999", description="未知分类"),
        _report(150, 150, description="二", idempotency_key="twin"),  # a retry, same batch
        _report(150, 50, idempotency_key="app-1", description="早先的"),  # a retry, later
        _report(60, 60, idempotency_key="app-1", description="换了内容"),
        _report(
            50, 95, code="0118", class_kind="component", component_identifier="3205990118999999"
        ),
        _report(30, 160, description="三", photo_urls=["https://img.example/1.jpg"]),
        _report(30, 30, description="四"),
    ]
    (answers, largest) = _together(settings, earlier, batch=batch)
    assert largest == len(batch)  # they did go as one batch

    one, outside, twin, unknown, twin_again, retry, reused, no_component, three, four = answers
    assert isinstance(outside, OutsideCoverageError)
    assert isinstance(unknown, UnknownClassError) and "9999" in str(unknown)
    assert isinstance(no_component, InvalidInputError) and "3205990118999999" in str(no_component)
    assert isinstance(reused, ConflictError)
    for answer, description, grid in (
        (one, "一", sd.A1),
        (twin, "二", sd.B2),
        (three, "三", sd.B1),
        (four, "四", sd.A1),
    ):
        event, created = answer
        assert created and (event["description"], event["grid_code"]) == (description, grid)
        assert event["assignment"]["grid"]["code"] == grid and event["class_name"]
    assert three[0]["photo_urls"] == ["https://img.example/1.jpg"]
    assert twin_again == (twin[0], False)
    assert retry[1] is False and retry[0]["description"] == "早先的"
    # five cases in all (the earlier one and four new), each with its one log line
    assert _stored(engine) == [
        ("早先的", sd.A2, "app-1", 1),
        ("一", sd.A1, None, 1),
        ("二", sd.B2, "twin", 1),
        ("三", sd.B1, None, 1),
        ("四", sd.A1, None, 1),
    ]


def test_a_report_the_database_refuses_fails_alone(engine, settings):
    sd.build(engine)
    with engine.begin() as conn:  # a rule in the database that refuses one kind of report
        conn.execute(
            text("""
            CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.description = '拒收' THEN RAISE EXCEPTION 'refused'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse BEFORE INSERT ON event FOR EACH ROW EXECUTE FUNCTION refuse();
            """)
        )
    batch = [_report(30, 30, description=d) for d in ("一", "二", "拒收", "三")]
    answers, largest = _together(settings, batch=batch)
    assert largest == 4
    assert isinstance(answers[2], DBAPIError) and "refused" in str(answers[2])
    assert [a[0]["description"] for i, a in enumerate(answers) if i != 2] == ["一", "二", "三"]
    assert [row[0] for row in _stored(engine)] == ["一", "二", "三"]


def test_closing_stores_the_waiting_reports_and_refuses_later_ones(engine, settings):
    sd.build(engine)

    async def scenario():
        db = IntakeDatabase(settings.database_url)
        await db.open()
        queue = ReportQueue(db, settings)
        waiting = [
            asyncio.create_task(queue.create_event(_report(30, 30, description=str(n))))
            for n in range(5)
        ]
        await asyncio.sleep(0)  # all five are in the queue
        await asyncio.wait_for(queue.close(), timeout=5)
        later = await asyncio.gather(queue.create_event(_report(30, 30)), return_exceptions=True)
        await db.close()
        return await asyncio.gather(*waiting), later

    stored, later = asyncio.run(scenario())
    assert [(e["description"], created) for e, created in stored] == [
        (str(n), True) for n in range(5)
    ]
    assert isinstance(later[0], UnavailableError) and later[0].status == 503
    assert len(_stored(engine)) == 5


def test_reports_go_on_when_the_database_has_dropped_the_connections(engine, settings):
    # A restart or failover cuts every connection of the intake's pool, and the goodbye may
    # still be unread on them: asyncpg then refuses the next statement ("cannot switch to
    # state") without sending it. Such a report is stored over a new connection; one whose
    # statement was already on its way when the server went may be answered 503. After that,
    # reports are stored again, with no 500 and no hang.
    sd.build(engine)

    def cut_intake_connections() -> int:
        with engine.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND backend_type = 'client backend'"
                    )
                ).all()
            )

    async def scenario():
        db = IntakeDatabase(settings.database_url)
        await db.open()
        queue = ReportQueue(db, settings)
        try:
            before = await queue.create_event(_report(30, 30, description="之前"))
            cut = await asyncio.to_thread(cut_intake_connections)
            caught = await asyncio.gather(
                queue.create_event(_report(30, 30, description="断线时")), return_exceptions=True
            )
            after = [
                await queue.create_event(_report(30, 30, description=d)) for d in ("之后", "再之后")
            ]
        finally:
            await asyncio.wait_for(queue.close(), timeout=5)
            await db.close()
        return before, cut, caught[0], after

    before, cut, caught, after = asyncio.run(scenario())
    assert cut >= 2  # the report lane's connection and the pool's warm ones
    assert isinstance(caught, (tuple, OperationalError)), caught
    assert [(e["description"], created) for e, created in [before, *after]] == [
        ("之前", True),
        ("之后", True),
        ("再之后", True),
    ]
