# GDPR (Regulation (EU) 2016/679): the fifteen controls of the catalog's "gdpr" framework.
#
# The gate evaluates this package only when personal data of EU/EEA subjects is upstream of the
# model. Every control reports exactly one result for any input: each is a complete rule whose
# else chain ends in a default. The files of this package split the controls by theme; this one
# holds what they share: which data the GDPR governs here, facts about it worked out once, and
# how a result is worded.
#
# The embedded engine pays for every step of evaluation, so facts several controls need (tags,
# markers, who declared what) are sets computed once per decision, not functions each control
# calls per dataset.
package governance.gdpr

import data.governance.lib
import rego.v1

# Jurisdiction codes that put data subjects under the GDPR (Art. 3), upper-cased once.
gdpr_jurisdictions := {upper(j) | some j in lib.config.gdpr_jurisdictions}

# --- tags, parsed once -------------------------------------------------------------------------

# [node, key] of every tag upstream, on a dataset or on one of its columns, lower-cased.
dataset_tags := [[d.node, k] |
	some d in lib.upstream
	some t in d.tags
	lt := lower(t)
	parts := split(lt, "=")
	k := parts[0]
]

# [node, field, key, tag] of every column tag upstream, lower-cased ("pii=direct" has key "pii").
column_tags := [[d.node, f.name, k, lt] |
	some d in lib.upstream
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
		some d in lib.upstream
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

# Upstream personal data the GDPR governs: its jurisdictions name the EU/EEA, or name nothing
# (nothing says the data is outside the GDPR, so it is judged: fail closed). A dataset whose
# jurisdictions name only other laws (e.g. ["AE"]) is left to them.
governed := [d |
	some d in lib.upstream
	d.node in personal_nodes
	js := lib.jurisdictions(d)
	under_gdpr(js, gdpr_jurisdictions)
]

under_gdpr(js, _) if count(js) == 0

under_gdpr(js, g) if count(js & g) > 0

governed_nodes := {d.node | some d in governed}

governed_subjects := lib.nodes(governed)

governed_evidence := lib.evidence_of(governed)

special := [d | some d in governed; d.node in special_nodes]

# Datasets whose classification says who declared it and when: a declared result (a lawful
# basis, an Art. 9 condition) must name its author, or it cannot be reported as declared.
attributed_nodes := {d.node |
	some d in input.datasets
	lib.recorded(d.declaration.declared_by)
	lib.recorded(d.declaration.declared_at)
}

# The model's own node in the lineage: where model-level declarations (Art. 22) are recorded.
model_nodes := [d | some d in input.datasets; d.distance == 0]

model_node_ids := {d.node | some d in model_nodes}

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

# Every message is formatted here, with concat rather than sprintf: rego-cpp's sprintf writes
# some strings with their JSON quotes (one made by concat, upper or lower, or a literal passed as
# a function's argument), and its trim_space output loses the escaping of a quote; either way the
# output is not JSON and the decision an error, where OPA writes the text. concat writes every
# kind of string alike on both engines. The template's "%s" take the arguments in order: strings
# as they are, integers in decimal.
fmt(template, args) := text if {
	parts := split(template, "%s")
	pieces := [piece |
		some i in numbers.range(0, count(parts) - 1)
		arg := arg_text(args, i)
		piece := concat("", [parts[i], arg])
	]
	text := concat("", pieces)
}

arg_text(args, i) := "" if {
	i >= count(args)
} else := s if {
	s := args[i]
	is_string(s)
} else := s if {
	n := args[i]
	is_number(n)
	s := format_int(n, 10)
} else := "?"

not_applicable(id, why) := r if {
	r := lib.result(id, "not_applicable", "verified", why, [], [])
}

# A failing result from a set of problems {node, text}: the subjects are the nodes that failed
# (datasets, jobs, or the model's digest) and the evidence the ledger entries asserting them.
failing(id, problems) := r if {
	nodes := {p.node | some p in problems}
	distinct := {p.text | some p in problems}
	texts := sort(distinct)
	ev := evidence_for(nodes)
	msg := concat("; ", texts)
	subjects := sort(nodes)
	r := lib.result(id, "fail", "verified", msg, subjects, ev)
}

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
declarers(datasets) := text if {
	who := {w |
		some d in datasets
		d.node in attributed_nodes
		entry := format_int(d.declaration.index, 10)
		w := concat("", [d.declaration.declared_by, " at ", d.declaration.declared_at, " (entry ", entry, ")"])
	}
	sorted := sort(who)
	text := concat("; ", sorted)
}

unattributed_problem(d, what) := p if {
	t := concat("", [d.node, ": ", what, ", but its classification does not say who declared it and when"])
	p := {"node": d.node, "text": t}
}

names(datasets) := text if {
	ns := lib.nodes(datasets)
	text := concat(", ", ns)
}

# A dataset's purposes, as a list whatever was recorded.
purposes_of(d) := p if {
	p := d.classification.purposes
	is_array(p)
} else := []
