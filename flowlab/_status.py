"""The one vocabulary of run statuses: flows, discrete trainers and checkpoints.

A :class:`~flowlab._flow.solution.Solution` (``sol.status``) and a
:class:`~flowlab.train.TrainResult` (``res.status``) say how their run ended with a
word from :data:`STATUSES`, and a sentence for the user beside it (``sol.message``,
``res.stop_reason``) that gives the numbers and says what to change.  Tests and
callers branch on the status, never on the words of the message.

This module imports nothing from flowlab, so that every part of the package can
import it.
"""

from __future__ import annotations

__all__ = ["STATUSES", "MEANINGS", "check_status"]

#: Every status and what it means.  A returned result never carries "running".
MEANINGS = {
    "running": "the run has not ended: a stepper between two calls (scipy's solvers, the "
               "PyTorch bridge's RKC), a checkpoint taken while its run goes on",
    "finished": "the run reached its end: t_end or the requested loss level for a flow, "
                "the requested iterations for a trainer, the closed form for 'lsq'",
    "steady_state": "the run reached a critical point: ||grad L|| below `gtol` for a flow; "
                    "for ANLS, no candidate move lowers the loss",
    "interrupted": "stopped before its end by the user (KeyboardInterrupt, or an ANLS "
                   "`callback` that returned True), or the last checkpoint of a run that did "
                   "not finish; the result is partial and a flow can be resumed",
    "failed": "the solver or the watchdog stopped the run: non-finite values, a step size "
              "below 10 ulp of t, a run that cannot finish; see the message",
    "diverged": "a discrete trainer's loss became non-finite: its step is too large, lower "
                "the learning rate `lr`",
    "zeno": "an accumulation of events was detected (exact flows); see the message",
    "degenerate": "the run cannot go on as posed: the Filippov solution stops being unique "
                  "(a neuron collapses to w = b = 0), or no ANLS move is left (every neuron "
                  "dead or blocked); see the message",
    "max_steps": "the step budget ran out: `max_steps` of a flow, `max_iter` of ANLS",
    "stiff": "an explicit stepper stopped on a stiff flow rather than take millions of "
             "steps; the message names the method to use",
}

#: The statuses, in the order of :data:`MEANINGS`.
STATUSES = tuple(MEANINGS)


def check_status(status, where: str = "status") -> str:
    """``status`` if it is one of :data:`STATUSES`, else ``ValueError`` naming ``where``.

    Examples
    --------
    >>> check_status("finished")
    'finished'
    """
    if status not in MEANINGS:
        raise ValueError(f"`{where}` must be one of {', '.join(STATUSES)}; got {status!r}.")
    return status
