# GDPR (Regulation (EU) 2016/679): the fifteen controls of the catalog's "gdpr" framework.
#
# The gate evaluates this package only when personal data of EU/EEA subjects is upstream of the
# model. Every control reports exactly one result for any input: each is a complete rule whose
# else chain ends in a default. The files of this package split the controls by theme; this one
# holds what they share: which data the GDPR governs here, facts about it worked out once, and
# how a result is worded.
#
# The embedded engine pays for every step of evaluation, and referring to a rule whose value is
# a list of datasets costs it a copy of the list each time: facts several controls need (which
# datasets are governed, marked, declared by whom) are sets of node ids computed once, and each
# control iterates input.datasets, filtered by those sets.
package governance.gdpr

import data.governance.lib
import rego.v1

# Jurisdiction codes that put data subjects under the GDPR (Art. 3), upper-cased once.
gdpr_jurisdictions := {upper(j) | some j in lib.config.gdpr_jurisdictions}

# --- tags, parsed once -------------------------------------------------------------------------

# [node, key] of every tag upstream, on a dataset or on one of its columns, lower-cased.
dataset_tags := [[d.node, k] |
	some d in input.datasets
	d.distance > 0
	some t in d.tags
	lt := lower(t)
	parts := split(lt, "=")
	k := parts[0]
]

# [node, field, key, tag] of every column tag upstream, lower-cased ("pii=direct" has key "pii").
column_tags := [[d.node, f.name, k, lt] |
	some d in input.datasets
	d.distance > 0
	some f in d.fields
	some t in f.tags
	lt := lower(t)
	parts := split(lt, "=")
	k := parts[0]
]

# Keys of tags that mark data as more than personal, and what they mark.
marker_kinds := {
	"special_category": "special",
	"special": "special",
	"criminal_offence": "criminal",
	"criminal": "criminal",
	"children": "children",
}

# [node, kind] of each marker: flagged in the classification, or tagged on the dataset or on any
# one of its columns.
markers := all if {
	flagged := {[d.node, kind] |
		some d in input.datasets
		d.distance > 0
		some flag in ["special_category", "criminal_offence", "children"]
		d.classification[flag] == true
		kind := marker_kinds[flag]
	}
	of_datasets := {[x[0], kind] | some x in dataset_tags; kind := marker_kinds[x[1]]}
	of_columns := {[x[0], kind] | some x in column_tags; kind := marker_kinds[x[2]]}
	all := (flagged | of_datasets) | of_columns
}

# Upstream datasets holding special categories (Art. 9(1)), criminal-offence data (Art. 10) or
# children's data (Art. 8).
special_nodes := {x[0] | some x in markers; x[1] == "special"}

criminal_nodes := {x[0] | some x in markers; x[1] == "criminal"}

children_nodes := {x[0] | some x in markers; x[1] == "children"}

# Tag keys that mark a column as personal data.
personal_tag_keys := keys if {
	sensitive := {k | marker_kinds[k]}
	keys := lib.pii_tags | sensitive
}

# --- the data the GDPR governs -----------------------------------------------------------------

# Personal data as the gate routes on it, and data that is personal by its markers alone.
personal_nodes := nodes if {
	routed := {d.node | some d in lib.personal_datasets}
	marked := {x[0] | some x in markers}
	nodes := routed | marked
}

# Positions in input.datasets. A control iterates the positions of the datasets it judges: in
# rego-cpp `x in s` scans s, so filtering every dataset by a set of node ids would cost each
# control datasets x set size steps.
positions := p if {
	n := count(input.datasets)
	n > 0
	p := numbers.range(0, n - 1)
} else := []

# Upstream personal data the GDPR governs: its jurisdictions name the EU/EEA, or name nothing
# (nothing says the data is outside the GDPR, so it is judged: fail closed). A dataset whose
# jurisdictions name only other laws (e.g. ["AE"]) is left to them.
governed_at := {i |
	some i in positions
	d := input.datasets[i]
	d.distance > 0
	d.node in personal_nodes
	js := lib.jurisdictions(d)
	under_gdpr(js, gdpr_jurisdictions)
}

governed := {input.datasets[i].node | some i in governed_at}

under_gdpr(js, _) if count(js) == 0

under_gdpr(js, g) if count(js & g) > 0

# Governed datasets with no classification at all: every control that reads the classification
# reports them as missing what it looks for.
unclassified := {d.node | some i in governed_at; d := input.datasets[i]; not classified(d)}

classified(d) if is_object(d.classification)

governed_subjects := sort(governed)

governed_evidence := evidence_for(governed)

special_at := {i | some i in governed_at; input.datasets[i].node in special_nodes}

special := {input.datasets[i].node | some i in special_at}

# Datasets whose classification says who declared it and when: a declared result (a lawful
# basis, an Art. 9 condition) must name its author, or it cannot be reported as declared.
attributed_nodes := {d.node |
	some d in input.datasets
	lib.recorded(d.declaration.declared_by)
	lib.recorded(d.declaration.declared_at)
}

# The model's own node in the lineage: where model-level declarations (Art. 22) are recorded.
model_at := {i | some i in positions; input.datasets[i].distance == 0}

model_nodes := {input.datasets[i].node | some i in model_at}

model_purpose := p if {
	p := input.model.purpose
	lib.recorded(p)
} else := ""

# The data subjects' requests as recorded (Art. 7(3), 17, 21), or an empty object.
requests := r if {
	r := input.requests
	is_object(r)
} else := {}

# --- wording of results ------------------------------------------------------------------------

# Messages are built with concat, never sprintf: rego-cpp's sprintf writes some strings with their
# JSON quotes (one made by concat, upper or lower, or a literal passed as a function's argument),
# and its trim_space output loses the escaping of a quote; either way the output is not JSON and
# the decision an error, where OPA writes the text. concat writes every string alike on both.

not_applicable(id, why) := r if {
	r := lib.result(id, "not_applicable", "verified", why, [], [])
}

# A failing result from a set of problems {node, why}: the subjects are the nodes that failed
# (datasets, jobs, or the model's digest) and the evidence the ledger entries asserting them.
failing(id, problems) := r if {
	nodes := {p.node | some p in problems}
	distinct := {t | some p in problems; t := problem_text(p.why)}
	texts := sort(distinct)
	ev := evidence_for(nodes)
	msg := concat("; ", texts)
	subjects := sort(nodes)
	r := lib.result(id, "fail", "verified", msg, subjects, ev)
}

# A problem's text from its parts. rego-cpp evaluates a body's expressions in the order their
# variables allow, not as written: a message built with a function inside a problem's body is
# built for every dataset the body looks at, failing or not. A problem therefore carries the
# parts of its message (strings, numbers, lists of strings, null), joined here for the problems
# that exist.
problem_text(why) := text if {
	parts := [s | some x in why; s := text_of(x)]
	text := concat("", parts)
}

text_of(x) := x if is_string(x)

text_of(x) := s if {
	is_number(x)
	s := format_int(x, 10)
}

text_of(x) := s if {
	is_array(x)
	s := concat(", ", x)
}

text_of(x) := "none recorded" if x == null

# The ledger indexes behind datasets and jobs (their runs' events), by node id, sorted.
evidence_for(nodes) := sorted if {
	of_datasets := {i |
		some d in input.datasets
		d.node in nodes
		some i in d.evidence
	}
	of_jobs := {i |
		some j in input.jobs
		j.node in nodes
		some r in j.runs
		some i in r.evidence
	}
	sorted := sort(of_datasets | of_jobs)
}

# "who at when (entry n)" for each attributed dataset, for the message of a declared result.
# Not lib.declared_by: a null declared_at would be formatted differently by the two engines.
declarers(nodes) := text if {
	who := {w |
		some d in input.datasets
		d.node in nodes
		d.node in attributed_nodes
		entry := format_int(d.declaration.index, 10)
		w := concat("", [d.declaration.declared_by, " at ", d.declaration.declared_at, " (entry ", entry, ")"])
	}
	sorted := sort(who)
	text := concat("; ", sorted)
}

unattributed_problem(d, what) := p if {
	p := {"node": d.node, "why": [d.node, ": ", what, ", but its classification does not say who declared it and when"]}
}

names(nodes) := text if {
	sorted := sort(nodes)
	text := concat(", ", sorted)
}

# A dataset's purposes, as a list whatever was recorded.
purposes_of(d) := p if {
	p := d.classification.purposes
	is_array(p)
} else := []
