"""GET /challenges lists the challenges; GET /solutions/{slug} lists a challenge's shortest
correct commands, shortest first, with one Query on the results table's sparse index."""

from boto3.dynamodb.conditions import Key

from catalog import (
    CHALLENGES,
    MAX_SOLUTIONS,
    SOLUTIONS_INDEX,
    respond,
    results_table,
    unknown_challenge,
)

table = results_table()


def handler(event, context):
    route = event.get("routeKey", "")
    if route == "GET /challenges":
        return respond(200, {"challenges": [c.public() for c in CHALLENGES.values()]})

    slug = (event.get("pathParameters") or {}).get("slug", "")
    if slug not in CHALLENGES:
        return respond(404, {"message": unknown_challenge(slug)})
    page = table.query(
        IndexName=SOLUTIONS_INDEX,
        KeyConditionExpression=Key("solutionOf").eq(slug),
        ScanIndexForward=True,
        Limit=MAX_SOLUTIONS,
    )
    solutions = [{"cmd": item["cmd"], "length": int(item["length"])} for item in page["Items"]]
    return respond(
        200,
        {"challenge": CHALLENGES[slug].public(), "solutions": solutions},
    )
