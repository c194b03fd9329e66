"""Scripted model outputs for engine tests."""

RESTATE = "We need 16 - 3 - 4.\n"
DECOMPOSE = "1. Subtract 3. 2. Subtract 4.\n"
WRONG = "16 - 3 = 13, 13 - 4 = 11.\nCandidate answer: 11\n"
RIGHT = "16 - 3 = 13, 13 - 4 = 9.\nCandidate answer: 9\n"
CHECK = "print(16 - 3 - 4)\n```\n"
ANSWER_9 = "9"
ANSWER_11 = "11"

PASSING = [RESTATE, DECOMPOSE, RIGHT, CHECK, ANSWER_9]
CORRECTED = [RESTATE, DECOMPOSE, WRONG, CHECK, RIGHT, CHECK, ANSWER_9]
STUBBORN = [RESTATE, DECOMPOSE, WRONG, CHECK, WRONG, CHECK, WRONG, CHECK, ANSWER_11]

# The review step (fresh context): the verdict word, then one line of reasons.
ACCEPT = ["ACCEPT", "The check agrees with the answer."]
REVISE = ["REVISE", "The answer does not follow from the question."]
REVIEWED = PASSING + ACCEPT
BROKEN_CHECK = "print(1 / 0)\n```\n"
# With max_corrections=0: the check crashes, so the chain answers 11 with a failed check.
FAILING_11 = [RESTATE, DECOMPOSE, WRONG, BROKEN_CHECK, ANSWER_11]
