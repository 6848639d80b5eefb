# The record of how the model came to be, and of what the decision rests on: A.8.15 (+ A.8.17)
# and A.5.28 + A.5.33.
package governance.iso27001

import rego.v1

# --- A.8.15 (+ A.8.17) Logging; clock synchronization --------------------------------------------

logging_findings := ((unrecorded | incomplete) | backwards) | future if {
	# No recorded job upstream means no log shows how the model was built: a finding.
	unrecorded := {[digest, "no job upstream of the model is recorded: no log shows how it was built"] | count(build_jobs) == 0}
	incomplete := {[j.node, msg] |
		some j in build_jobs
		not logged_run(j)
		msg := concat("", [j.node, " has no run with both a START and a COMPLETE event"])
	}

	# Events are appended to the ledger as they happen, so a later entry with an earlier time
	# means a clock that is off (A.8.17) or an event written after the fact.
	backwards := {[j.node, msg] |
		some j in build_jobs
		some r in j.runs
		msg := backwards_pair(r, j.node)
	}
	now := input.evaluated_at
	future := {[j.node, msg] |
		some j in build_jobs
		some r in j.runs
		some e in r.events
		e.time > now
		msg := concat("", ["run ", r.run_id, " of ", j.node, " has an event (entry ", num(e.index), ") at ", e.time, ", after the decision's time ", input.evaluated_at])
	}
}

# Event types are OpenLineage's eventType values, which are upper case.
logged_run(j) if {
	some r in j.runs
	types := [e.type | some e in r.events]
	"START" in types
	"COMPLETE" in types
}

# A run's times in ledger order are its times sorted, unless one goes back; only then is the
# first such pair looked for. Events are put in ledger order by a zero-padded text key, since
# regopy sorts numbers in an array as text ([100, 510, 52, 9]).
backwards_pair(r, node) := msg if {
	by_index := sort([[key, e.time, e.index] | some e in r.events; key := sprintf("%020d", [e.index])])
	times := [p[1] | some p in by_index]
	times != sort(times)
	pairs := [[earlier, later] |
		some k in numbers.range(1, count(by_index) - 1)
		earlier := by_index[k - 1]
		later := by_index[k]
		earlier[1] > later[1]
	]
	earlier := pairs[0][0]
	later := pairs[0][1]
	msg := concat("", ["run ", r.run_id, " of ", node, " goes back in time: entry ", num(earlier[2]), " is at ", earlier[1], ", the later entry ", num(later[2]), " at ", later[1]])
}

logging_pass_message := concat("", ["every job upstream of the model (", concat(", ", build_job_nodes), ") has a run with START and COMPLETE events, in ledger order and before the decision"])

logging := judged("iso-a8.15", logging_findings, "verified", logging_pass_message, build_job_nodes, build_run_evidence)

# --- A.5.28 + A.5.33 Collection of evidence; protection of records -------------------------------

# The ledger indexes the result cites: datasets' evidence and the decision's own records
# (attestations, approvals, waivers, declared digests, tests). Runs' entries are checked too but
# cited by A.8.15: a run may have hundreds, and regopy builds a set in quadratic time.
cited_indexes := sort(datasets | decision) if {
	datasets := {i | some d in input.datasets; some i in d.evidence}
	attestations := {a.index | some a in input.attestations}
	approvals := {a.index | some a in input.approvals}
	waivers := {w.index | some w in input.waivers}
	declared := {d.index | some d in input.declared_digests}
	tests := {t.index | some t in input.tests; t.index != null}
	decision := (((attestations | approvals) | waivers) | declared) | tests
}

records_findings := (ledger_state | uncited) | outside_ledger_findings if {
	ledger_state := {[digest, msg] | some msg in ledger_problems}
	uncited := {[d.node, msg] |
		some d in input.datasets
		count(d.evidence) == 0
		msg := concat("", [d.node, " carries no ledger evidence"])
	} | {[j.node, msg] |
		some j in input.jobs
		some r in j.runs
		count(r.evidence) == 0
		msg := concat("", ["run ", r.run_id, " of ", j.node, " carries no ledger evidence"])
	}
}

# What is wrong with the ledger state itself.
ledger_problems contains "no ledger state is recorded with the decision, so its evidence cannot be located" if {
	input.ledger == null
}

ledger_problems contains "the ledger the evidence comes from is empty" if {
	input.ledger.size <= 0
}

ledger_problems contains msg if {
	input.ledger.checkpoint_size > input.ledger.size
	msg := concat("", ["the checkpoint (size ", num(input.ledger.checkpoint_size), ") is ahead of the ledger (size ", num(input.ledger.size), ")"])
}

# Evidence must be an entry the ledger holds (indexes start at 0). Each citation is looked at
# only when some index is outside, so the finding can name what cites the missing entry.
outside_ledger_findings := (lineage | decision) if {
	outside_ledger_cited
	size := input.ledger.size
	lineage := {[d.node, msg] |
		some d in input.datasets
		some i in d.evidence
		not in_ledger(i, size)
		msg := outside_ledger(i, d.node)
	} | {[j.node, msg] |
		some j in input.jobs
		some r in j.runs
		indexes := run_indexes(r)
		some i in indexes
		not in_ledger(i, size)
		msg := outside_ledger(i, concat("", ["run ", r.run_id, " of ", j.node]))
	}
	decision := {[digest, msg] |
		some c in decision_citations
		not in_ledger(c[1], size)
		msg := outside_ledger(c[1], c[0])
	}
} else := set()

# Whether some cited index is outside the ledger (indexes start at 0). Comprehensions, not rule
# bodies, walk the events: regopy iterates a rule body about three times slower. Not max():
# regopy 1.5.2's max([72, 245]) is 72, and sort() of a set is no array to array.concat or [i].
outside_ledger_cited if {
	size := input.ledger.size
	runs := [i | some j in input.jobs; some r in j.runs; some i in r.evidence]
	events := [e.index | some j in input.jobs; some r in j.runs; some e in r.events]
	cited := [i | some i in cited_indexes]
	all := array.concat(array.concat(cited, runs), events)
	outside := [i | some i in all; i >= size]
	negative := [i | some i in all; i < 0]
	count(outside) + count(negative) > 0
}

run_indexes(r) := {i | some i in r.evidence} | {e.index | some e in r.events}

# The decision's own citations: [what, index].
decision_citations := (((attestations | approvals) | waivers) | declared) | tests if {
	attestations := {[w, a.index] | some a in input.attestations; w := concat("", ["the ", a.purpose, " attestation"])}
	approvals := {[w, a.index] | some a in input.approvals; w := concat("", ["the approval by ", a.approver])}
	waivers := {[w, x.index] | some x in input.waivers; w := concat("", ["the waiver of ", x.control])}
	declared := {["a declaration of the model's digest", d.index] | some d in input.declared_digests}
	tests := {[w, t.index] | some t in input.tests; t.index != null; w := concat("", ["the test ", t.name])}
}

in_ledger(i, size) if {
	i >= 0
	i < size
}

outside_ledger(i, what) := concat("", ["entry ", num(i), ", cited for ", what, ", is not in the ledger (size ", num(input.ledger.size), ")"])

records_pass_message := concat("", ["every dataset and run carries ledger evidence, and every entry cited (by datasets, runs, events, attestations, approvals, waivers, declared digests and tests) is in the ledger (size ", num(input.ledger.size), ", checkpoint at ", num(input.ledger.checkpoint_size), ")"]) if {
	input.ledger != null
} else := ""

evidence_collection := judged("iso-a5.28-33", records_findings, "verified", records_pass_message, [digest], cited_indexes)
