"""The operations view's figures: run success rates, durations and their trend from the
run history (:mod:`.runs`), with the task queue and the health of the parts
(:mod:`.summary`), as one answer for the JupyterLab Operations view."""
