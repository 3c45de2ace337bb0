"""squall.locks: Condition, Event, Semaphore, BoundedSemaphore, Lock."""

from __future__ import annotations

import asyncio
import datetime
import re

import pytest

from squall import gen, locks
from squall.locks import BoundedSemaphore, Condition, Event, Lock, Semaphore
from squall.testing import AsyncTestCase, gen_test
from squall.util import TimeoutError

pytestmark = pytest.mark.gen_test(timeout=10)

# Long enough for the loop to run a few iterations, short enough to keep
# the suite fast; nothing asserts on how long anything actually took.
SHORT = datetime.timedelta(milliseconds=10)


async def spin(iterations: int = 3) -> None:
    """Let the loop run pending callbacks (done-callbacks run one step late)."""
    for _ in range(iterations):
        await asyncio.sleep(0)


def short_deadline(io_loop) -> float:
    return io_loop.time() + SHORT.total_seconds()


def test_public_names():
    assert sorted(locks.__all__) == [
        "BoundedSemaphore",
        "Condition",
        "Event",
        "Lock",
        "Semaphore",
    ]
    for name in locks.__all__:
        assert getattr(locks, name).__module__ == "squall.locks"


def test_waiters_use_current_loop_when_none_is_running(io_loop):
    # Built before the loop runs (module-level setup code does this).
    fut = Semaphore(0).acquire()
    assert fut.get_loop() is io_loop.asyncio_loop
    fut.cancel()


# -- Condition -----------------------------------------------------------------


async def test_condition_notify_wakes_waiters_in_order(io_loop):
    cond = Condition()
    assert repr(cond) == "<Condition>"
    woken = []

    async def waiter(name):
        assert await cond.wait() is True
        woken.append(name)

    tasks = [asyncio.ensure_future(waiter(n)) for n in "abcd"]
    await spin()
    assert repr(cond) == "<Condition waiters[4]>"
    cond.notify()
    await spin()
    assert woken == ["a"]
    cond.notify(2)
    await spin()
    assert woken == ["a", "b", "c"]
    assert repr(cond) == "<Condition waiters[1]>"
    cond.notify_all()
    await asyncio.gather(*tasks)
    assert woken == ["a", "b", "c", "d"]
    assert repr(cond) == "<Condition>"


async def test_condition_notify_is_not_remembered(io_loop):
    cond = Condition()
    cond.notify()
    cond.notify(5)
    cond.notify_all()
    fut = cond.wait(SHORT)
    assert not fut.done()
    assert await fut is False


async def test_condition_notify_more_than_waiting(io_loop):
    cond = Condition()
    futs = [cond.wait(), cond.wait()]
    cond.notify(10)
    assert [await f for f in futs] == [True, True]
    later = cond.wait()
    assert not later.done()
    cond.notify()
    assert await later is True


@pytest.mark.parametrize("kind", ["timedelta", "deadline"])
async def test_condition_wait_timeout_returns_false(io_loop, kind):
    cond = Condition()
    timeout = SHORT if kind == "timedelta" else short_deadline(io_loop)
    expired = cond.wait(timeout)
    patient = cond.wait()
    assert await expired is False
    assert repr(cond) == "<Condition waiters[1]>"
    # The timed-out waiter left the line: the notification reaches the next.
    cond.notify()
    assert await patient is True


async def test_condition_notified_before_timeout_stays_true(io_loop):
    cond = Condition()
    fut = cond.wait(SHORT)
    cond.notify()
    assert await fut is True
    # Outlive the deadline: a timeout still armed would try to set the
    # result again and log an error (which fails the test).
    await asyncio.sleep(SHORT.total_seconds() * 2)
    assert fut.result() is True


async def test_condition_cancelled_waiter_is_skipped(io_loop):
    cond = Condition()
    cancelled = cond.wait()
    second = cond.wait()
    cancelled.cancel()
    # Same loop iteration: the cancelled waiter is still in line but must
    # not take the notification.
    cond.notify()
    assert await second is True
    assert repr(cond) == "<Condition>"


async def test_condition_waiting_task_cancelled_leaves_line(io_loop):
    cond = Condition()
    task = asyncio.ensure_future(cond.wait())
    await spin()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await spin()
    assert repr(cond) == "<Condition>"


async def test_condition_rejects_bad_timeout(io_loop):
    cond = Condition()
    with pytest.raises(TypeError, match="timeout must be"):
        cond.wait("soon")
    with pytest.raises(TypeError, match="not bool"):
        cond.wait(True)
    assert repr(cond) == "<Condition>"


# -- Event -----------------------------------------------------------------------


async def test_event_set_releases_every_waiter(io_loop):
    event = Event()
    assert repr(event) == "<Event clear>"
    assert not event.is_set()
    futs = [event.wait() for _ in range(3)]
    assert not any(f.done() for f in futs)
    event.set()
    assert event.is_set()
    assert repr(event) == "<Event set>"
    assert await asyncio.gather(*futs) == [None, None, None]
    # Setting again changes nothing and wakes nobody twice.
    event.set()
    assert event.is_set()


async def test_event_wait_when_set_is_done_at_once(io_loop):
    event = Event()
    event.set()
    fut = event.wait()
    assert fut.done()
    assert fut.result() is None
    assert event.wait(SHORT).done()


async def test_event_clear_makes_wait_block_again(io_loop):
    event = Event()
    event.set()
    event.clear()
    assert not event.is_set()
    assert repr(event) == "<Event clear>"
    fut = event.wait()
    await spin()
    assert not fut.done()
    event.set()
    await fut


@pytest.mark.parametrize("kind", ["timedelta", "deadline"])
async def test_event_wait_timeout_raises(io_loop, kind):
    event = Event()
    timeout = SHORT if kind == "timedelta" else short_deadline(io_loop)
    with pytest.raises(TimeoutError):
        await event.wait(timeout)
    # Still usable after a timeout.
    fut = event.wait()
    event.set()
    await fut


async def test_event_wait_past_deadline_times_out(io_loop):
    event = Event()
    with pytest.raises(TimeoutError, match="Timeout"):
        await event.wait(io_loop.time() - 1)


async def test_event_set_before_timeout_wins(io_loop):
    event = Event()
    fut = event.wait(SHORT)
    event.set()
    await fut
    await asyncio.sleep(SHORT.total_seconds() * 2)
    assert fut.exception() is None


async def test_event_cancelled_waiter_is_dropped(io_loop):
    event = Event()
    cancelled = event.wait()
    kept = event.wait()
    cancelled.cancel()
    event.set()  # must not try to resolve the cancelled Future
    await kept
    assert cancelled.cancelled()
    assert len(event._waiters) == 0


async def test_event_rejects_bad_timeout(io_loop):
    with pytest.raises(TypeError, match="timeout must be"):
        Event().wait(object())


# -- Semaphore -------------------------------------------------------------------

SEMAPHORE_REPR = re.compile(r"<squall\.locks\.Semaphore object at 0x[0-9a-f]+ \[(.*)\]>\Z")


def semaphore_state(sem: Semaphore) -> str:
    match = re.fullmatch(
        r"<squall\.locks\.(?:Bounded)?Semaphore object at 0x[0-9a-f]+ \[(.*)\]>", repr(sem)
    )
    assert match, repr(sem)
    return match.group(1)


async def test_semaphore_repr_shows_state(io_loop):
    sem = Semaphore(2)
    assert SEMAPHORE_REPR.match(repr(sem))
    assert str(sem) == repr(sem)
    assert semaphore_state(sem) == "unlocked,value:2"
    await sem.acquire()
    await sem.acquire()
    assert semaphore_state(sem) == "locked"
    waiters = [sem.acquire(), sem.acquire()]
    assert semaphore_state(sem) == "locked,waiters:2"
    sem.release()
    assert semaphore_state(sem) == "locked,waiters:1"
    for w in waiters:
        w.cancel()
    assert semaphore_state(Semaphore(0)) == "locked"


def test_semaphore_rejects_negative_value():
    with pytest.raises(ValueError, match="semaphore initial value must be >= 0"):
        Semaphore(-1)
    with pytest.raises(ValueError, match="semaphore initial value must be >= 0"):
        BoundedSemaphore(-1)


async def test_semaphore_acquire_and_release(io_loop):
    sem = Semaphore(2)
    first = sem.acquire()
    assert isinstance(first, asyncio.Future)
    assert first.done()
    await sem.acquire()
    third = sem.acquire()
    assert not third.done()
    sem.release()
    await third
    assert semaphore_state(sem) == "locked"
    sem.release()
    sem.release()
    assert semaphore_state(sem) == "unlocked,value:2"
    # A plain Semaphore may be released above its initial value.
    sem.release()
    assert semaphore_state(sem) == "unlocked,value:3"


async def test_semaphore_serves_waiters_in_order_and_newcomers_wait(io_loop):
    sem = Semaphore(0)
    order = []

    async def worker(name):
        await sem.acquire()
        order.append(name)

    tasks = [asyncio.ensure_future(worker(n)) for n in range(4)]
    await spin()
    sem.release()
    # The unit went straight to worker 0: a newcomer in the same iteration
    # must not overtake it.
    newcomer = sem.acquire()
    assert not newcomer.done()
    await spin()
    assert order == [0]
    for _ in range(4):
        sem.release()
    await asyncio.gather(*tasks)
    await newcomer
    assert order == [0, 1, 2, 3]
    assert semaphore_state(sem) == "locked"


@pytest.mark.parametrize("kind", ["timedelta", "deadline"])
async def test_semaphore_timed_out_waiter_takes_no_unit(io_loop, kind):
    sem = Semaphore(0)
    timeout = SHORT if kind == "timedelta" else short_deadline(io_loop)
    with pytest.raises(TimeoutError, match="Timeout"):
        await sem.acquire(timeout)
    assert semaphore_state(sem) == "locked"
    sem.release()
    # The unit was not handed to the expired waiter.
    assert semaphore_state(sem) == "unlocked,value:1"
    assert sem.acquire().done()


async def test_semaphore_timeout_with_unit_available_succeeds(io_loop):
    sem = Semaphore(1)
    fut = sem.acquire(io_loop.time() - 1)  # a past deadline is moot when free
    assert fut.done()
    await fut


async def test_semaphore_acquired_before_timeout_keeps_unit(io_loop):
    sem = Semaphore(0)
    fut = sem.acquire(SHORT)
    sem.release()
    await fut
    await asyncio.sleep(SHORT.total_seconds() * 2)
    assert fut.exception() is None
    assert semaphore_state(sem) == "locked"


async def test_semaphore_timeout_between_other_waiters(io_loop):
    sem = Semaphore(0)
    first = sem.acquire()
    expiring = sem.acquire(SHORT)
    last = sem.acquire()
    with pytest.raises(TimeoutError):
        await expiring
    assert semaphore_state(sem) == "locked,waiters:2"
    sem.release()
    sem.release()
    await first
    await last
    assert semaphore_state(sem) == "locked"


async def test_semaphore_cancelled_waiter_takes_no_unit(io_loop):
    sem = Semaphore(0)
    cancelled = sem.acquire()
    cancelled.cancel()
    sem.release()  # same iteration: the cancelled Future is still queued
    assert semaphore_state(sem) == "unlocked,value:1"
    await spin()
    assert len(sem._waiters) == 0


async def test_semaphore_waiting_task_cancelled(io_loop):
    sem = Semaphore(0)
    task = asyncio.ensure_future(sem.acquire())
    await spin()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    sem.release()
    assert semaphore_state(sem) == "unlocked,value:1"


async def test_semaphore_async_with(io_loop):
    sem = Semaphore(2)
    async with sem as target:
        assert target is None
        assert semaphore_state(sem) == "unlocked,value:1"
    assert semaphore_state(sem) == "unlocked,value:2"
    with pytest.raises(ZeroDivisionError):
        async with sem:
            1 / 0  # noqa: B018
    assert semaphore_state(sem) == "unlocked,value:2"


async def test_semaphore_limits_concurrency(io_loop):
    sem = Semaphore(2)
    active = 0
    peak = 0
    done = []

    async def worker(i):
        nonlocal active, peak
        async with sem:
            active += 1
            peak = max(peak, active)
            await spin(2)
            active -= 1
        done.append(i)

    await asyncio.gather(*(worker(i) for i in range(6)))
    assert peak == 2
    assert sorted(done) == list(range(6))
    assert semaphore_state(sem) == "unlocked,value:2"


async def test_semaphore_async_with_cancelled_while_waiting(io_loop):
    sem = Semaphore(0)

    async def user():
        async with sem:
            pytest.fail("must not get in")

    task = asyncio.ensure_future(user())
    await spin()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    sem.release()
    assert semaphore_state(sem) == "unlocked,value:1"


async def test_semaphore_async_with_cancelled_after_handover_gives_unit_back(io_loop):
    sem = Semaphore(0)
    entered = []

    async def user():
        async with sem:
            entered.append(True)

    task = asyncio.ensure_future(user())
    await spin()
    sem.release()  # hands the unit to the task's waiter...
    task.cancel()  # ...which is cancelled before it can resume
    with pytest.raises(asyncio.CancelledError):
        await task
    assert entered == []
    assert semaphore_state(sem) == "unlocked,value:1"


async def test_semaphore_with_await_acquire(io_loop):
    sem = Semaphore()
    with await sem.acquire() as target:
        assert target is None
        assert semaphore_state(sem) == "locked"
    assert semaphore_state(sem) == "unlocked,value:1"


async def test_semaphore_with_yield_acquire_in_gen_coroutine(io_loop):
    sem = Semaphore(1)
    log = []

    @gen.coroutine
    def worker(name):
        with (yield sem.acquire()):
            log.append(f"{name} in")
            yield gen.moment
            log.append(f"{name} out")

    yield_both = [worker("a"), worker("b")]
    await asyncio.gather(*yield_both)
    assert log == ["a in", "a out", "b in", "b out"]
    assert semaphore_state(sem) == "unlocked,value:1"


def test_semaphore_plain_with_is_refused():
    sem = Semaphore()
    with pytest.raises(RuntimeError) as info:
        with sem:
            pytest.fail("must not get in")
    assert str(info.value) == "Use 'async with' instead of 'with' for Semaphore"
    with pytest.raises(RuntimeError, match="async with"):
        sem.__exit__(None, None, None)
    with pytest.raises(RuntimeError, match="for Semaphore"):
        with BoundedSemaphore():
            pass


async def test_semaphore_rejects_bad_timeout(io_loop):
    sem = Semaphore(0)
    with pytest.raises(TypeError, match=r"timeout must be .*not str"):
        sem.acquire("1")
    # Nothing joined the line.
    assert semaphore_state(sem) == "locked"


# -- BoundedSemaphore -------------------------------------------------------------


async def test_bounded_semaphore_refuses_extra_release(io_loop):
    sem = BoundedSemaphore(2)
    assert isinstance(sem, Semaphore)
    assert repr(sem).startswith("<squall.locks.BoundedSemaphore object at 0x")
    with pytest.raises(ValueError, match="Semaphore released too many times"):
        sem.release()
    await sem.acquire()
    await sem.acquire()
    waiter = sem.acquire()
    sem.release()  # handed to the waiter, not counted
    await waiter
    sem.release()
    sem.release()
    assert semaphore_state(sem) == "unlocked,value:2"
    with pytest.raises(ValueError, match="Semaphore released too many times"):
        sem.release()
    assert semaphore_state(sem) == "unlocked,value:2"


async def test_bounded_semaphore_zero(io_loop):
    sem = BoundedSemaphore(0)
    with pytest.raises(ValueError, match="released too many times"):
        sem.release()
    with pytest.raises(TimeoutError):
        await sem.acquire(SHORT)


# -- Lock ------------------------------------------------------------------------

LOCK_REPR = r"<Lock _block=<squall\.locks\.BoundedSemaphore object at 0x[0-9a-f]+ \[{state}\]>>\Z"


def assert_lock_state(lock: Lock, state: str) -> None:
    assert re.match(LOCK_REPR.format(state=re.escape(state)), repr(lock)), repr(lock)


async def test_lock_acquire_release_and_repr(io_loop):
    lock = Lock()
    assert_lock_state(lock, "unlocked,value:1")
    assert str(lock) == repr(lock)
    await lock.acquire()
    assert_lock_state(lock, "locked")
    second = lock.acquire()
    assert not second.done()
    assert_lock_state(lock, "locked,waiters:1")
    lock.release()
    await second
    assert_lock_state(lock, "locked")
    lock.release()
    assert_lock_state(lock, "unlocked,value:1")


async def test_lock_release_unlocked(io_loop):
    lock = Lock()
    with pytest.raises(RuntimeError, match="release unlocked lock"):
        lock.release()
    async with lock:
        pass
    with pytest.raises(RuntimeError, match="release unlocked lock"):
        lock.release()


async def test_lock_is_fair(io_loop):
    lock = Lock()
    order = []

    async def worker(i):
        async with lock:
            order.append(i)
            await spin(1)

    await asyncio.gather(*(worker(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]


async def test_lock_mutual_exclusion(io_loop):
    lock = Lock()
    counter = 0
    inside = 0

    async def increment():
        nonlocal counter, inside
        for _ in range(5):
            async with lock:
                inside += 1
                assert inside == 1
                value = counter
                await asyncio.sleep(0)
                counter = value + 1
                inside -= 1

    await asyncio.gather(*(increment() for _ in range(4)))
    assert counter == 20
    assert_lock_state(lock, "unlocked,value:1")


async def test_lock_async_with_releases_on_error(io_loop):
    lock = Lock()
    with pytest.raises(KeyError):
        async with lock as target:
            assert target is None
            assert_lock_state(lock, "locked")
            raise KeyError("boom")
    assert_lock_state(lock, "unlocked,value:1")


@pytest.mark.parametrize("kind", ["timedelta", "deadline"])
async def test_lock_acquire_timeout(io_loop, kind):
    lock = Lock()
    await lock.acquire()
    timeout = SHORT if kind == "timedelta" else short_deadline(io_loop)
    with pytest.raises(TimeoutError):
        await lock.acquire(timeout)
    # The expired waiter did not take the lock.
    lock.release()
    assert_lock_state(lock, "unlocked,value:1")
    await lock.acquire(SHORT)
    lock.release()


async def test_lock_async_with_cancelled_after_handover(io_loop):
    lock = Lock()
    await lock.acquire()

    async def user():
        async with lock:
            pytest.fail("must not get in")

    task = asyncio.ensure_future(user())
    await spin()
    lock.release()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert_lock_state(lock, "unlocked,value:1")


async def test_lock_with_yield_acquire_in_gen_coroutine(io_loop):
    lock = Lock()

    @gen.coroutine
    def critical():
        with (yield lock.acquire()) as target:
            assert target is None
            assert_lock_state(lock, "locked")
        return "ok"

    assert await critical() == "ok"
    assert_lock_state(lock, "unlocked,value:1")


async def test_lock_releaser_reports_lock_error(io_loop):
    lock = Lock()
    releaser = await lock.acquire()
    with releaser:
        pass
    # The context manager releases the Lock itself, so a second exit is
    # the Lock's error, not the underlying semaphore's.
    with pytest.raises(RuntimeError, match="release unlocked lock"):
        releaser.__exit__(None, None, None)


def test_lock_plain_with_is_refused():
    lock = Lock()
    with pytest.raises(RuntimeError) as info:
        with lock:
            pytest.fail("must not get in")
    assert str(info.value) == "Use `async with` instead of `with` for Lock"
    with pytest.raises(RuntimeError, match="for Lock"):
        lock.__exit__(None, None, None)


# -- the unittest style ------------------------------------------------------------


class GeneratorStyleTest(AsyncTestCase):
    """The Tornado 4 idioms, in an AsyncTestCase with generator tests."""

    @gen_test
    def test_with_yield_semaphore(self):
        sem = BoundedSemaphore(1)
        with (yield sem.acquire()):
            self.assertEqual(semaphore_state(sem), "locked")
            blocked = sem.acquire()
            yield gen.moment
            self.assertFalse(blocked.done())
        yield blocked
        sem.release()
        self.assertEqual(semaphore_state(sem), "unlocked,value:1")

    @gen_test
    def test_condition_and_event_with_yield(self):
        cond = Condition()
        event = Event()

        @gen.coroutine
        def waiter():
            notified = yield cond.wait()
            event.set()
            return notified

        fut = waiter()
        yield gen.moment
        cond.notify()
        yield event.wait(datetime.timedelta(seconds=1))
        self.assertIs((yield fut), True)
