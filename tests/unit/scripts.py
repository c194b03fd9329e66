"""What the fake model says at each step, by purpose (a factor, "review", "review-reasons", "judge")."""

RESTATE = "We need 16 - 3 - 4.\n"
DECOMPOSE = "1. Subtract 3. 2. Subtract 4.\n"
WRONG = "16 - 3 = 13, 13 - 4 = 11.\nCandidate answer: 11\n"
RIGHT = "16 - 3 = 13, 13 - 4 = 9.\nCandidate answer: 9\n"
CHECK = "print(16 - 3 - 4)\n```\n"
BROKEN_CHECK = "print(1 / 0)\n```\n"


def chain(**steps):
    """A chain's script: restate and decompose as usual, then the given steps."""
    return {"restate": RESTATE, "decompose": DECOMPOSE, **steps}


PASSING = chain(hypothesize=RIGHT, verify=CHECK, answer="9")
# The check disagrees with 11, the correction finds 9, the second check agrees.
CORRECTED = chain(hypothesize=WRONG, verify=CHECK, correct=RIGHT, answer="9")
# Every correction repeats 11, so the clean check's 9 wins when the chain must answer.
STUBBORN = chain(hypothesize=WRONG, verify=CHECK, correct=WRONG, answer="11")
# With max_corrections=0: the check crashes, so the chain answers 11 with a failed check.
FAILING_11 = chain(hypothesize=WRONG, verify=BROKEN_CHECK, answer="11")

ACCEPT = {"review": "ACCEPT", "review-reasons": "The check agrees with the answer."}
REVISE = {"review": "REVISE", "review-reasons": "The answer does not follow from the question."}


def in_turn(*scripts):
    """Scripts whose steps each run once (no corrections), said in turn: the k-th chain (or review)
    of a run says what the k-th script says."""
    purposes = {p for s in scripts for p in s}
    return {p: [s.get(p, "") for s in scripts] for p in purposes}


def per_sample(*scripts):
    """A handler for samples decoded side by side: sample i (strategies seed sample i with
    seed + 1000*i) says what scripts[i] says, by purpose; the last script serves any later."""
    from ponder.llm.fake import by_purpose

    handlers = [by_purpose(s) for s in scripts]

    def answer(call):
        index = (call.sampling.seed or 0) // 1000
        return handlers[min(index, len(handlers) - 1)](call)

    return answer
