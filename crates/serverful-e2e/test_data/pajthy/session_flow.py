import asyncio, json, sys, time, urllib.error, urllib.request
import boto3, websockets

HTTP, WS, CONNECTIONS = sys.argv[1], sys.argv[2], sys.argv[3]
API = HTTP + "/api"
result = {}
db = boto3.client("dynamodb")

def call(method, path, body=None, secret=None):
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Pajthy-Secret"] = secret
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())

async def next_session(ws, until=lambda view: True):
    """The pushed views, until one satisfies `until`."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 15))
        if message.get("type") in ("session", "subscribed") and until(message["session"]):
            return message

def subscription(connection_id):
    return db.get_item(TableName=CONNECTIONS, Key={"connectionId": {"S": connection_id}}, ConsistentRead=True).get("Item")

async def wait_gone(connection_id, seconds=10):
    deadline = time.time() + seconds
    while subscription(connection_id) is not None:
        if time.time() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True

async def main():
    status, created = call("POST", "/sessions", {"choices": ["1", "2", "3", "5", "8"]})
    result["create"] = [status, created]
    session, secret = created["sessionId"], created["secret"]
    result["bad_choices"] = call("POST", "/sessions", {"choices": ["1"]})

    async with websockets.connect(WS) as controller, websockets.connect(WS) as ana_ws, \
               websockets.connect(WS) as bo_ws, websockets.connect(WS) as cy_ws, \
               websockets.connect(WS) as stranger:
        sockets = {"controller": controller, "ana": ana_ws, "bo": bo_ws, "cy": cy_ws}
        ids = {}
        for name, ws in sockets.items():
            await ws.send(json.dumps({"action": "subscribe", "sessionId": session}))
            subscribed = await next_session(ws)
            ids[name] = subscribed["connectionId"]
        result["subscribed"] = subscribed
        await stranger.send(json.dumps({"action": "subscribe", "sessionId": "nope"}))
        result["unknown_session"] = json.loads(await asyncio.wait_for(stranger.recv(), 15))

        voters = {}
        for name in ["ana", "bo", "cy"]:
            status, joined = call("POST", f"/sessions/{session}/join", {"name": name})
            voters[name] = joined["voterId"]
            result.setdefault("joins", []).append(status)
        result["name_taken"] = call("POST", f"/sessions/{session}/join", {"name": " ANA "})
        three = lambda view: len(view["voters"]) == 3
        result["everyone_sees_three"] = [
            [v["name"] for v in (await next_session(ws, three))["session"]["voters"]] for ws in sockets.values()
        ]

        # Closed: votes are refused.
        result["vote_while_closed"] = call("POST", f"/sessions/{session}/vote", {"voterId": voters["ana"], "choice": "5"})
        # Controller actions need the secret.
        result["start_without_secret"] = call("POST", f"/sessions/{session}/start")
        result["start_wrong_secret"] = call("POST", f"/sessions/{session}/start", secret="guess")
        result["start"] = call("POST", f"/sessions/{session}/start", secret=secret)
        is_open = lambda view: view["open"]
        result["everyone_sees_open"] = [(await next_session(ws, is_open))["session"]["open"] for ws in sockets.values()]

        # cy's connection drops without a close frame: its $disconnect deletes its
        # subscription.
        cy_ws.transport.abort()
        result["disconnect_removed_subscription"] = await wait_gone(ids["cy"])
        # AWS delivers $disconnect on a best-effort basis: put back the subscription a
        # missed $disconnect would have left, so the next push meets the dead connection.
        db.put_item(TableName=CONNECTIONS, Item={"connectionId": {"S": ids["cy"]}, "sessionId": {"S": session}})

        result["ana_votes"] = call("POST", f"/sessions/{session}/vote", {"voterId": voters["ana"], "choice": "5"})
        ana_voted = lambda view: any(v["name"] == "ana" and v["voted"] for v in view["voters"])
        live = {name: ws for name, ws in sockets.items() if name != "cy"}
        result["after_ana_votes"] = {name: (await next_session(ws, ana_voted))["session"] for name, ws in live.items()}
        # That push met cy's dead connection: 410, and the subscription is gone.
        result["gone_subscription_removed"] = await wait_gone(ids["cy"])

        result["bad_choice"] = call("POST", f"/sessions/{session}/vote", {"voterId": voters["bo"], "choice": "4"})
        result["bo_votes"] = call("POST", f"/sessions/{session}/vote", {"voterId": voters["bo"], "choice": "8"})
        result["ana_changes_her_mind"] = call("POST", f"/sessions/{session}/vote", {"voterId": voters["ana"], "choice": "3"})

        # The controller kicks cy, who can no longer vote.
        result["kick_without_secret"] = call("POST", f"/sessions/{session}/kick", {"name": "cy"})
        result["kick"] = call("POST", f"/sessions/{session}/kick", {"name": "cy"}, secret=secret)
        result["kick_again"] = call("POST", f"/sessions/{session}/kick", {"name": "cy"}, secret=secret)
        result["kicked_votes"] = call("POST", f"/sessions/{session}/vote", {"voterId": voters["cy"], "choice": "1"})
        no_cy = lambda view: all(v["name"] != "cy" for v in view["voters"])
        result["after_kick"] = (await next_session(controller, no_cy))["session"]

        result["stop"] = call("POST", f"/sessions/{session}/stop", secret=secret)
        closed = lambda view: not view["open"]
        result["revealed"] = {name: (await next_session(ws, closed))["session"] for name, ws in live.items()}
        result["vote_after_stop"] = call("POST", f"/sessions/{session}/vote", {"voterId": voters["bo"], "choice": "1"})
        result["reset"] = call("POST", f"/sessions/{session}/reset", secret=secret)
        result["get"] = call("GET", f"/sessions/{session}")
        result["unknown"] = call("GET", "/sessions/nope")

    # Five votes at once: the optimistic lock keeps each of them.
    call("POST", f"/sessions/{session}/start", secret=secret)
    crowd = {}
    for index in range(5):
        crowd[f"v{index}"] = call("POST", f"/sessions/{session}/join", {"name": f"v{index}"})[1]["voterId"]
    loop = asyncio.get_running_loop()
    statuses = await asyncio.gather(*[
        loop.run_in_executor(None, call, "POST", f"/sessions/{session}/vote", {"voterId": voter, "choice": "2"})
        for voter in crowd.values()
    ])
    result["concurrent_votes"] = [status for status, _ in statuses]
    result["after_concurrent"] = call("GET", f"/sessions/{session}")[1]

asyncio.run(main())
print(json.dumps(result))
