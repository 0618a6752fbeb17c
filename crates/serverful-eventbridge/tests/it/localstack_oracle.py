"""The differential test's oracle: LocalStack's own implementation of EventBridge event
patterns (localstack-core, `localstack.services.events.event_rule_engine`), which
LocalStack checks against AWS with recorded responses. Reads the corpus (path in argv[1])
and prints, per case, whether the pattern was accepted and which events matched (null
where the oracle itself raised).

Only the exception class the module imports from LocalStack's generated API is stood in
for, so that none of LocalStack's server dependencies are needed; the matching code runs
as shipped."""
import json
import sys
import types

api = types.ModuleType("localstack.aws.api.events")


class InvalidEventPatternException(Exception):
    pass


api.InvalidEventPatternException = InvalidEventPatternException
sys.modules["localstack.aws.api.events"] = api

from localstack.services.events.event_rule_engine import EventPatternCompiler, EventRuleEngine  # noqa: E402

results = []
for case in json.load(open(sys.argv[1])):
    try:
        compiled = EventPatternCompiler().compile_event_pattern(case["pattern"])
    except Exception as error:  # noqa: BLE001 - any refusal counts as "invalid"
        results.append({"valid": False, "error": str(error), "matches": []})
        continue
    engine = EventRuleEngine()
    matches = []
    for event in case["events"]:
        try:
            matches.append(bool(engine.evaluate_pattern_on_event(compiled, event)))
        except Exception:  # noqa: BLE001 - the oracle crashing is an answer of its own
            matches.append(None)
    results.append({"valid": True, "error": None, "matches": matches})
json.dump(results, sys.stdout)
