"""Writes corpus.json: event patterns and the events to match them against, for the
differential test (tests/it/differential.rs). Run it again after editing the lists:
`python3 make_corpus.py > corpus.json`. Deterministic: no randomness."""
import json

# Leaf conditions, each used as the value list of one field.
CONDITIONS = [
    ["x"], ["x", "y"], [""], [5], [5.0], [300], [3.018e2], [True], [False], [None], ["5"],
    [{"prefix": "x"}], [{"prefix": ""}], [{"prefix": {"equals-ignore-case": "X"}}],
    [{"suffix": "y"}], [{"suffix": {"equals-ignore-case": "Y"}}],
    [{"equals-ignore-case": "XY"}],
    [{"wildcard": "x*"}], [{"wildcard": "*y"}], [{"wildcard": "x*y"}], [{"wildcard": "*"}], [{"wildcard": "a\\*b"}],
    [{"anything-but": "x"}], [{"anything-but": ["x", "y"]}], [{"anything-but": 5}], [{"anything-but": [5, 300]}],
    [{"anything-but": {"prefix": "x"}}], [{"anything-but": {"suffix": "y"}}],
    [{"anything-but": {"equals-ignore-case": "XY"}}], [{"anything-but": {"equals-ignore-case": ["X", "Y"]}}],
    [{"anything-but": {"wildcard": "x*"}}],
    [{"numeric": [">", 0]}], [{"numeric": [">=", 5]}], [{"numeric": ["<", 5]}], [{"numeric": ["<=", 5]}],
    [{"numeric": ["=", 5]}], [{"numeric": [">", 0, "<=", 5]}], [{"numeric": [">=", -1.5, "<", 300]}],
    [{"exists": True}], [{"exists": False}],
    [{"cidr": "10.0.0.0/24"}], [{"cidr": "2001:db8::/32"}],
    ["x", {"prefix": "a"}], [{"exists": False}, "x"], [5, {"numeric": [">", 100]}],
]

# Values of the field under test.
VALUES = [
    "x", "y", "xy", "XY", "Xy", "ax", "", "5", "a*b", "aXb", 5, 5.0, 0, -1, -1.5, 300, 301.8, 1e10,
    True, False, None, ["x", "z"], ["z"], [], [5, 7], [["x"]], {"k": "x"}, [{"k": "x"}],
    "10.0.0.7", "10.0.1.7", "2001:db8::1", "2001:db9::1",
]

INVALID = [
    "[]", "{}", '{"a": {}}', '{"a": "x"}', '{"a": []}', '{"a": [[1]]}', '{"a": [{}]}',
    '{"a": [{"regex": "x"}]}', '{"a": [{"prefix": "x", "suffix": "y"}]}', '{"a": [{"prefix": 5}]}',
    '{"a": [{"suffix": null}]}', '{"a": [{"equals-ignore-case": ["x"]}]}', '{"a": [{"wildcard": 1}]}',
    '{"a": [{"wildcard": "a**"}]}', '{"a": [{"exists": "true"}]}', '{"a": [{"cidr": 10}]}',
    '{"a": [{"cidr": "10.0.0.0"}]}', '{"a": [{"cidr": "10.0.0.0/x"}]}', '{"a": [{"numeric": 5}]}',
    '{"a": [{"numeric": []}]}', '{"a": [{"numeric": [5]}]}', '{"a": [{"numeric": ["!=", 5]}]}',
    '{"a": [{"numeric": ["=", "5"]}]}', '{"a": [{"numeric": ["<", 5, ">", 1]}]}',
    '{"a": [{"numeric": [">", 5, 6]}]}', '{"a": [{"numeric": [">", 0, ">", 5]}]}',
    '{"a": [{"numeric": [">", 0, "<", 5, "x"]}]}', '{"a": [{"numeric": [">", 5, "<", 5]}]}',
    '{"a": [{"anything-but": null}]}', '{"a": [{"anything-but": [null]}]}', '{"a": [{"anything-but": ["x", 1]}]}',
    '{"a": [{"anything-but": {"numeric": [">", 1]}}]}', '{"a": [{"anything-but": {"prefix": 1}}]}',
    '{"a": [{"anything-but": {"prefix": ""}}]}', '{"a": [{"anything-but": {"equals-ignore-case": [1]}}]}',
    '{"$or": {"a": ["x"]}}', '{"$or": [{"a": ["x"]}]}', '{"$or": [{"a": ["x"]}, "b"]}',
    '{"$or": [{"numeric": [1]}, {"a": ["x"]}]}',
]


def main():
    cases = []
    for condition in CONDITIONS:
        pattern = json.dumps({"detail": {"f": condition}})
        events = [{"detail": {"f": value}} for value in VALUES] + [{"detail": {}}, {"other": 1}]
        cases.append({"pattern": pattern, "events": events})
    # Structure: nesting, arrays of objects, $or.
    structured = [
        ({"source": ["s"], "detail": {"a": ["x"], "b": {"c": [1]}}}, [
            {"source": "s", "detail": {"a": "x", "b": {"c": 1}}},
            {"source": "s", "detail": {"a": "x", "b": {"c": 2}}},
            {"source": "s", "detail": {"a": "x", "b": [{"c": 2}, {"c": 1}]}},
            {"source": "t", "detail": {"a": "x", "b": {"c": 1}}},
            {"source": "s", "detail": {"a": ["y", "x"], "b": {"c": [1]}}},
        ]),
        ({"e": {"first": ["Anna"], "last": ["Smith"]}}, [
            {"e": [{"first": "John", "last": "Doe"}, {"first": "Anna", "last": "Smith"}]},
            {"e": [{"first": "Anna", "last": "Doe"}, {"first": "John", "last": "Smith"}]},
            {"e": {"first": "Anna", "last": "Smith"}},
        ]),
        ({"source": ["s"], "$or": [{"a": ["x"]}, {"b": [{"numeric": [">", 1]}]}]}, [
            {"source": "s", "a": "x"}, {"source": "s", "b": 2}, {"source": "s", "b": 1}, {"source": "t", "a": "x"},
        ]),
        ({"d": {"$or": [{"a": ["x"]}, {"b": ["y"]}], "c": [{"exists": True}]}}, [
            {"d": {"a": "x", "c": 1}}, {"d": {"b": "y"}}, {"d": {"b": "y", "c": None}},
        ]),
        ({"$or": [{"a": ["x"]}, {"b": ["y"]}], "c": {"$or": [{"d": [1]}, {"e": [2]}]}}, [
            {"a": "x", "c": {"e": 2}}, {"b": "y", "c": {"d": 2}}, {"a": "z", "c": {"d": 1}},
        ]),
        ({"a": {"b": [{"exists": False}]}}, [
            {"a": {"c": 1}}, {"a": {"b": 1}}, {}, {"a": 5},
        ]),
    ]
    for pattern, events in structured:
        cases.append({"pattern": json.dumps(pattern), "events": events})
    for pattern in INVALID:
        cases.append({"pattern": pattern, "events": []})
    print(json.dumps(cases, indent=1))


main()
