"""Landing branches: the merge train (`wtpar land`) and bringing branches up to date with
their base (`wtpar update`).

Public entry points: `select.make_plan`, `train.Train` / `train.run_train_sync`,
`update.update_branches`, and the typed results in `plan`, `report` and `update`.
"""
