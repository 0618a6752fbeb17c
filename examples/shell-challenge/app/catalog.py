"""What both functions share: the challenges (one folder each under challenges/), how an
answer is judged, the results table and its key schema, and API Gateway responses.

The results table holds one item per (challenge, command) that anyone ever ran:

    challenge (partition key)  the challenge's slug
    cmd       (sort key)       the command, exactly as submitted
    correct, output, exitCode, timedOut, length

Correct commands also carry the keys of the sparse `Solutions` index, so that the shortest
correct commands of a challenge are one Query, shortest first:

    solutionOf (partition key) the challenge's slug
    rank       (sort key)      the command's length, zero-padded, then "#" and the command
                               (ties in length are ordered by the command itself)
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import boto3

CHALLENGES_DIR = Path(__file__).parent / "challenges"

# DynamoDB sort keys hold up to 1024 bytes; the index's rank adds five to the command.
MAX_CMD_BYTES = 1000

# What is kept of a command's output in the table and shown in responses.
MAX_STORED_OUTPUT_CHARS = 2000

SOLUTIONS_INDEX = "Solutions"
MAX_SOLUTIONS = 50


@dataclass(frozen=True)
class Challenge:
    slug: str
    title: str
    description: str
    answer: str
    # The fixture files a command runs against (a fresh copy each time).
    files: Path

    def public(self):
        """The challenge as players see it: everything but the answer."""
        return {"slug": self.slug, "title": self.title, "description": self.description}


def load_challenges():
    challenges = {}
    for definition in sorted(CHALLENGES_DIR.glob("*/challenge.json")):
        folder = definition.parent
        fields = json.loads(definition.read_text())
        challenges[folder.name] = Challenge(
            slug=folder.name,
            title=fields["title"],
            description=fields["description"],
            answer=fields["answer"],
            files=folder / "files",
        )
    return challenges


CHALLENGES = load_challenges()


def normalize(output):
    """Output as it is compared: trailing spaces and blank lines at either end ignored."""
    lines = [line.rstrip() for line in output.splitlines()]
    return "\n".join(lines).strip("\n")


def judge(output, answer):
    return normalize(output) == normalize(answer)


def solution_rank(cmd):
    return f"{len(cmd):04d}#{cmd}"


def results_table():
    # boto3 finds the Serverful endpoint and its keys in AWS_ENDPOINT_URL and friends.
    return boto3.resource("dynamodb").Table(os.environ["RESULTS_TABLE"])


def respond(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def unknown_challenge(slug):
    known = ", ".join(CHALLENGES)
    return f"unknown challenge {slug!r}; the challenges are: {known}"
