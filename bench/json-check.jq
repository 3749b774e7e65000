# SPDX-License-Identifier: MIT
# The shape of bench-results.json, for `jq -e --argjson req '[NAME...]'`:
#   {"machine": str, "floors": {NAME: {"median_ns": num, "p99_ns": num}},
#    "results": [{"name": str, "median_ns": num|null, "p99_ns": num|null,
#                 "mb_per_s": num|null, "floor": str|null, "ratio": num|null,
#                 "target": num|null, "met": bool}]}
# Every key present and no other; numbers not negative and p99 >= median,
# never judged by value; a result's floor names a floor or an earlier
# result; a target needs a ratio; every floor named in $req is there.
# Prints false (and jq -e exits 1) unless all of that holds.

def only($allowed): (keys - $allowed) == [] and ($allowed - keys) == [];
def num_or_null: (type == "number" and . >= 0) or type == "null";
def ordered: (.median_ns | type) != "number" or (.p99_ns | type) != "number"
    or .p99_ns >= .median_ns;

. as $doc
| type == "object"
and only(["machine", "floors", "results"])
and (.machine | type == "string")
and (.floors | type == "object")
and (.results | type == "array")
and all(.floors[];
    type == "object" and only(["median_ns", "p99_ns"])
    and (.median_ns | type == "number" and . >= 0)
    and (.p99_ns | type == "number" and . >= 0)
    and ordered)
and all($req[]; . as $f | $doc.floors | has($f))
and all(.results | to_entries[]; .key as $i | .value
    | type == "object"
    and only(["name", "median_ns", "p99_ns", "mb_per_s", "floor", "ratio",
        "target", "met"])
    and (.name | type == "string")
    and all(.median_ns, .p99_ns, .mb_per_s, .ratio, .target; num_or_null)
    and ordered
    and (.met | type == "boolean")
    and (.floor == null or (.floor | type == "string"
        and (. as $fl | ($doc.floors | has($fl))
            or any($doc.results[:$i][]; .name == $fl))))
    and ((.target | type) != "number" or (.ratio | type) == "number"))
