"""Findings: claims of the papers that flowlab's computations contradict.

A reproduction's check that tests such a claim passes ``finding=KEY`` to
:meth:`~flowlab.experiments.Report.check`; when the check does not hold, the
summary reports it as a finding (with the text below) instead of a failure, and
``all_hold`` covers the other checks.  A finding is listed here only when the
evidence was established beyond the single run of a reproduction (several
initialisations or data draws, an independent computation): a check that merely
fails is a failure, whatever its cause.  ``docs/findings.md`` is generated from
this table (``python -m flowlab.experiments._findings``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding", "FINDINGS", "finding", "markdown"]


@dataclass(frozen=True)
class Finding:
    """One claim of a paper that flowlab contradicts, with the evidence."""

    key: str
    title: str
    reproduction: str
    paper: str          # citation key, see flowlab.references
    claim: str          # what the paper says
    result: str         # what flowlab finds
    evidence: str       # how it was established
    command: str        # how to reproduce it

    def text(self) -> str:
        """One paragraph for ``summary.json``: the claim, the result, the evidence."""
        return (f"The paper ({self.paper}): {self.claim} flowlab: {self.result} "
                f"Evidence: {self.evidence} Reproduce: `{self.command}` "
                f"(docs/findings.md, {self.key}).")


_LIST = (
    Finding(
        key="theorem31-printed-lower-bound",
        title="Theorem 3.1's lower bound as printed drops Appendix A's factor 2",
        reproduction="plateau-sine",
        paper="Ainsworth & Shin 2021",
        claim=("on every stage of constant activation pattern (Theorem 3.1), "
               "L(t) >= Q0 + (L(t_s) - Q0) exp(-int_{t_s}^t r_max); the proof in Appendix A "
               "bounds the squared norm of the projected loss, and its exponents are "
               "exp(-2 int r_max) and exp(-2 int r_min)."),
        result=("on the exact gradient flow of plateau-sine (sin(pi x), width 10, He "
                "initialisation, seed 0) the printed lower bound is violated by 28% "
                "(largest relative violation 0.2805 over 144 stages), while both bounds with "
                "Appendix A's factor 2 hold to 5.2e-15, i.e. to rounding."),
        evidence=("the exact event-driven flow (rtol 1e-10) locates every stage to the "
                  "last bit; r_min and r_max are the extreme eigenvalues of Lemma A.2's "
                  "matrix on each stage, integrated by 4-point Gauss-Legendre per step.  "
                  "Over He seeds 0-5 the printed bound is violated by 28%, 0%, 13%, 2.3%, "
                  "14% and 13% (5 of 6 initialisations), the bounds with the factor 2 hold to "
                  "at most 6.5e-15 in all six (plateau-sine's full run lists the other "
                  "seeds under data.theorem31_other_inits)."),
        command="flowlab reproduce plateau-sine"),
    Finding(
        key="condensation-adam-lines",
        title="Adam's condensed lines on 5-d data exceed the multiplicity p",
        reproduction="condense-5d",
        paper="Zhou et al. 2022",
        claim=("with small initialisation the input weights condense in the initial stage on "
               "at most 2p orientations, p the multiplicity of the activation; Fig. 3 shows "
               "p lines for tanh, x tanh x, x^2 tanh x, sigmoid and softplus on 5-d data "
               "after Adam (and Xu et al. 2021, Fig. 1(d), three directions for relu)."),
        result=("full-batch Adam at the papers' settings (80 points, width 50, "
                "N(0, 0.005^2), 100 epochs) gives at epoch 100 four lines for x tanh x "
                "(p = 2), six for x^2 tanh x (p = 3), two for softplus (p = 1) and four for "
                "relu (limit 2), counting the fewest lines that hold 90% of the output; tanh "
                "and sigmoid give one, as the paper says."),
        evidence=("the lines are distinct, not an artefact of the counting rule (x tanh x: "
                  "17, 14, 12 and 7 neurons on lines 58-87 deg apart, spreads 2-7 deg; the "
                  "counts at 10 and 30 deg are reported too); over 4 data draws x 2 "
                  "initialisations x tanh x has 3-5 lines in 8 of 8 runs, x^2 tanh x 3-7 "
                  "(at most 3 in 4 of 8), softplus 1-2 (1 in 4 of 8), relu 2-11 (at most 2 in "
                  "2 of 8) (condense-5d's full run, data.activations.*.adam_other_runs); "
                  "flowlab's Adam equals torch.optim.Adam to 9e-16 on this problem, and "
                  "PyTorch's own MSE loss (without the 1/2) also gives four lines for "
                  "x tanh x."),
        command="flowlab reproduce condense-5d"),
    Finding(
        key="staircase-unaligned-steps",
        title="Not every rise of the eps-rank comes with a fast drop of the loss",
        reproduction="staircase-fit",
        paper="Yang, Zhao & Zhu 2024",
        claim=("the eps-rank of the last hidden layer rises in a staircase while the loss "
               "falls, each rise of the rank coming with a fast decrease of the loss "
               "(Sec. 2.2, Figs. 2-4)."),
        result=("on Example 2.1 (full-batch Adam, lr 1e-3, 20,000 iterations) some distinct "
                "rises of the rank (height >= 3) come with no faster decay of the loss: "
                "case (a) (L = 2, n = 50) 10->13 at 0.76x the treads' rate of loss decay, "
                "ELU 14->20 at 1.2x, cos 7->15 at 0.45x (a step is aligned at >= 2x).  The "
                "paper's 'once the neuron functions become fully linearly independent, the "
                "loss function rapidly decreases' holds: the climb to near full rank is "
                "aligned in every run."),
        evidence=("case (a) from four default initialisations: every distinct step aligned "
                  "for seeds 1 and 3; seeds 0 and 2 each hold one slow climb (10->13 at "
                  "0.76x, 8->12 at 0.61x, loss drops of 4% and 1.5%); the last climb is "
                  "aligned in all four (21x, 45x, 37x, 27x) (staircase-fit's full run, "
                  "data.case_a_initialisations)."),
        command="flowlab reproduce staircase-fit"),
)

#: the findings by key
FINDINGS: dict[str, Finding] = {f.key: f for f in _LIST}


def finding(key: str) -> Finding:
    """The :class:`Finding` of ``key``; a ValueError lists the known keys."""
    if key not in FINDINGS:
        raise ValueError(f"unknown finding {key!r}; the findings are: {', '.join(FINDINGS)} "
                         "(flowlab/experiments/_findings.py).")
    return FINDINGS[key]


def markdown() -> str:
    """The text of ``docs/findings.md``."""
    out = ["# Findings", "",
           "Claims of the papers that flowlab's computations contradict, each with the",
           "evidence and the command that reproduces it.  A reproduction's `summary.json`",
           "reports such a check with `\"finding\"` (and `flowlab reproduce` prints it apart",
           "from failures); `all_hold` covers the other checks.  A check is listed here only",
           "when the evidence goes beyond the single run of the reproduction (several",
           "initialisations or data draws, an independent computation); a check that merely",
           "does not hold is reported as a failure.  This page is generated from",
           "`flowlab/experiments/_findings.py`.", ""]
    for f in FINDINGS.values():
        out += [f"## {f.title}", "", f"Key `{f.key}`; reproduction `{f.reproduction}`; "
                f"paper: {f.paper} (see [references](references.md)).", "",
                f"- **The paper:** {f.claim}", f"- **flowlab:** {f.result}",
                f"- **Evidence:** {f.evidence}", f"- **Reproduce:** `{f.command}`", ""]
    return "\n".join(out)


if __name__ == "__main__":      # pragma: no cover
    print(markdown(), end="")
