"""The shared slot pool and named locks: within one process and across processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, run_wtpar_process
from tests.run_helpers import configure, intervals, max_overlap, spawn, stamped, wtpar_popen
from wtpar.run.pool import ResourceLocks, SlotPool, resource_file, slot_file

HOLDER = """
import sys
from filelock import FileLock
locks = [FileLock(p) for p in sys.argv[1:]]
for lock in locks:
    lock.acquire()
print("held", flush=True)
sys.stdin.readline()
"""


def hold_in_other_process(*paths: str) -> subprocess.Popen[str]:
    """Another process holding these lock files until its stdin gets a line."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, *paths],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


async def yield_to_loop(times: int = 20) -> None:
    """Let every ready task run (zero-time yields, not a wait)."""
    for _ in range(times):
        await asyncio.sleep(0)  # wait-ok: a zero-time yield to the loop, not a wait


async def test_slots_limit_holders_in_one_process(tmp_path: Path) -> None:
    pool = SlotPool(str(tmp_path), 2)
    first = await pool.acquire()
    second = await pool.acquire()
    assert {first, second} == {0, 1}
    third = asyncio.create_task(pool.acquire())
    await yield_to_loop()
    assert not third.done()
    pool.release(first)
    assert await asyncio.wait_for(third, 10) == first
    assert pool.busy == 2


async def test_slots_are_shared_with_other_processes(tmp_path: Path) -> None:
    other = hold_in_other_process(slot_file(str(tmp_path), 0), slot_file(str(tmp_path), 1))
    try:
        pool = SlotPool(str(tmp_path), 2)
        waiting = asyncio.create_task(pool.acquire())
        await yield_to_loop()
        assert not waiting.done()
        assert other.stdin is not None
        other.stdin.write("release\n")
        other.stdin.flush()
        assert await asyncio.wait_for(waiting, 10) in (0, 1)
    finally:
        other.kill()
        other.wait()


async def test_a_process_with_a_larger_jobs_uses_the_slots_above(tmp_path: Path) -> None:
    other = hold_in_other_process(slot_file(str(tmp_path), 0))
    try:
        pool = SlotPool(str(tmp_path), 2)
        assert await asyncio.wait_for(pool.acquire(), 10) == 1
    finally:
        other.kill()
        other.wait()


async def test_named_locks_serialize_holders_of_one_name_only(tmp_path: Path) -> None:
    locks = ResourceLocks(str(tmp_path))
    order: list[str] = []
    gate = asyncio.Event()

    async def user(tag: str, names: list[str]) -> None:
        async with locks.hold(names):
            order.append(f"{tag}+")
            await gate.wait()
            order.append(f"{tag}-")

    a = asyncio.create_task(user("a", ["db", "cache"]))
    b = asyncio.create_task(user("b", ["cache"]))
    c = asyncio.create_task(user("c", ["other"]))
    await yield_to_loop()
    assert order == ["a+", "c+"]  # b waits for cache; c's lock is free
    gate.set()
    await asyncio.wait_for(asyncio.gather(a, b, c), 10)
    assert order.index("b+") > order.index("a-")


async def test_named_locks_are_held_across_processes(tmp_path: Path) -> None:
    other = hold_in_other_process(resource_file(str(tmp_path), "db"))
    try:
        locks = ResourceLocks(str(tmp_path))
        entered = asyncio.Event()

        async def user() -> None:
            async with locks.hold(["db"]):
                entered.set()

        task = asyncio.create_task(user())
        await yield_to_loop()
        assert not entered.is_set()
        assert other.stdin is not None
        other.stdin.write("release\n")
        other.stdin.flush()
        await asyncio.wait_for(task, 10)
    finally:
        other.kill()
        other.wait()


def test_two_wtpar_processes_share_the_slots_and_the_locks(repo: Path, tmp_path: Path) -> None:
    slots = tmp_path / "slots"
    db = tmp_path / "db"
    tag = "$WTPAR_RUN_ID-$WTPAR_BRANCH"
    configure(
        repo,
        f"""
[tasks.work]
cmd = '''{stamped("sleep 0.2", tag, slots)}'''
[tasks.migrate]
cmd = '''{stamped("(" + stamped("sleep 0.1", tag, db) + ")", tag + "-m", slots)}'''
locks = ["db"]
""",
    )
    spawn(repo, "a", "b", "c", "d")
    procs = [
        wtpar_popen("run", "work", "migrate", "-j", "2", "--output", "quiet", cwd=repo)
        for _ in range(2)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
    work = intervals(slots)
    assert len(work) == 16
    # -j 2 in each process, the same two slot files: never more than 2 tasks together.
    assert max_overlap(work.values()) <= 2
    migrations = intervals(db)
    assert len(migrations) == 8
    assert max_overlap(migrations.values()) == 1


def test_a_slot_whose_lock_file_cannot_be_opened_fails_tasks_never_hangs_the_run(
    repo: Path,
) -> None:
    """Its OSError failed one task, and the free slots taken out with it were never put
    back: every other task waited for them, forever and without a word."""
    spawn(repo, "a", "b", "c")
    broken = Path(slot_file(str(repo / ".git" / "wtpar"), 0))
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.mkdir()  # a folder where the lock file should be
    ran = run_wtpar_process("run", "-j", "2", "--", "true", cwd=repo, timeout=60)
    assert ran.returncode == 0, ran.stdout + ran.stderr  # on the slot left
    assert f"wtpar: warning: {broken}: Is a directory; running with one slot fewer" in ran.stderr
    assert "3 tasks: 3 ok" in ran.stdout
    slot1 = Path(slot_file(str(repo / ".git" / "wtpar"), 1))
    slot1.unlink()
    slot1.mkdir()  # no slot left: every task fails, saying why, and the run ends
    none_left = run_wtpar_process("run", "-j", "2", "--", "true", cwd=repo, timeout=60)
    assert none_left.returncode == 1
    assert "3 tasks: 3 failed" in none_left.stdout, none_left.stdout
    assert f"wtpar: [Errno 21] Is a directory: '{slot1}'" in none_left.stdout
