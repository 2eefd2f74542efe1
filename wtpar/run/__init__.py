"""Running tasks: the task graph (taskconfig, plan), the dispatcher and its executors
(executor, local), the shared pool, run logs and reports, and recorded results.

Public entry points: `plan.RunRequest`, `dispatch.Dispatcher`, `runner.run_sync`,
`results.ResultStore`, `runstore.RunStore`, `report` (JSON, CSV, JUnit, summary). The
package imports nothing itself, so `wtpar list` never pays for asyncio.
"""
