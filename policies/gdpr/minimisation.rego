# What data reaches the model and for how long: data minimisation (Art. 5(1)(c)), storage
# limitation (Art. 5(1)(e)), and data protection by design (Art. 25).
#
# Columns are followed through the column lineage (the `columnLineage` facet) as a graph whose
# nodes are "<dataset node>#<field>", from the model's own columns back to the columns they were
# derived from.
package governance.gdpr

import data.governance.lib
import rego.v1

results contains art5_1c

results contains art5_1e

results contains art25

# --- column lineage ----------------------------------------------------------------------------

column_edges := [edge |
	some d in input.datasets
	some e in d.column_lineage
	from := concat("#", [d.node, e.field])
	to := concat("#", [e.input_node, e.input_field])
	transformation := object.get(e, "transformation", null)
	edge := {"node": d.node, "field": e.field, "from": from, "to": to, "input_node": e.input_node, "input_field": e.input_field, "transformation": transformation}
]

# Each column and the columns it is derived from. graph.reachable only returns nodes that are
# keys of the graph (on both engines), so source columns with no edges of their own are keys too.
# Grouping the edges by column costs edges x edges steps: the input lists column lineage as
# edges, not grouped by column as the facet is.
column_graph := object.union(leaf_columns, derived_columns)

leaf_columns := {e.to: [] | some e in column_edges}

derived_columns := {e.from: sources |
	some e in column_edges
	sources := [s.to | some s in column_edges; s.from == e.from]
}

# Personal columns and the dataset each belongs to: columns of governed datasets tagged as
# personal, and every column of a governed dataset with no column tagged at all (the dataset is
# personal and nothing says which columns are, so every one is taken to be).
tagged_datasets := {x[0] | some x in column_tags; x[2] in personal_tag_keys}

untagged_datasets := governed - tagged_datasets

personal_column_of := columns if {
	tagged := {c: x[0] |
		some x in column_tags
		x[2] in personal_tag_keys
		x[0] in governed
		c := concat("#", [x[0], x[1]])
	}
	listed := {c: d.node |
		some i in governed_at
		d := input.datasets[i]
		d.node in untagged_datasets
		some f in d.fields
		c := concat("#", [d.node, f.name])
	}
	referenced := {e.to: e.input_node | some e in column_edges; e.input_node in untagged_datasets}
	columns := object.union_n([tagged, listed, referenced])
}

# --- Art. 5(1)(c): data minimisation -----------------------------------------------------------

# The model's columns (features) from the column lineage of its own node.
model_edges := [e | some e in column_edges; e.node in model_nodes]

approved_features := {f | some f in input.model.approved_features}

# Features the model uses that are not approved (every one, when none are declared). Only these
# are followed through the column lineage: an approved feature may carry personal data.
unapproved_edges := [e | some e in model_edges; not e.field in approved_features]

feature_sources := all if {
	# Each unapproved feature and the personal columns it derives from. Without column lineage on
	# the model's node, the training run read the datasets at distance 1 whole: each of their
	# personal columns reaches the model under its own name.
	part1 := {{"feature": e.field, "sources": sources} |
		some e in unapproved_edges
		reached := graph.reachable(column_graph, [e.from])
		sources := sort([c | some c in reached; personal_column_of[c]])
		count(sources) > 0
	}
	part2 := {{"feature": f.name, "sources": [c]} |
		count(model_edges) == 0
		some i in governed_at
		d := input.datasets[i]
		d.distance == 1
		some f in d.fields
		not f.name in approved_features
		c := concat("#", [d.node, f.name])
		personal_column_of[c]
	}
	all := part1 | part2
}

art5_1c_problems := {p |
	some fs in feature_sources
	from := concat(", ", fs.sources)
	why := unapproved_text(fs.feature, from)
	some c in fs.sources
	p := {"node": personal_column_of[c], "why": [why]}
}

unapproved_text(feature, from) := text if {
	features := object.get(input.model, "approved_features", null)
	not is_array(features)
	text := concat("", ["personal data reaches the model's feature ", feature, " (from ", from, "), and the model declares no approved features (model.approved_features)"])
} else := text if {
	text := concat("", ["the model's feature ", feature, " carries personal data (from ", from, ") and is not among its approved features"])
}

# Datasets the training run read whose columns are unknown: with no column lineage on the
# model's node, which of their personal data reaches the model cannot be told.
unknown_columns := {d.node |
	count(model_edges) == 0
	some i in governed_at
	d := input.datasets[i]
	d.distance == 1
	d.node in untagged_datasets
	count(d.fields) == 0
}

art5_1c := r if {
	count(governed) == 0
	r := not_applicable("gdpr-art5-1c", "no personal data under the GDPR upstream of the model")
} else := r if {
	count(art5_1c_problems) > 0
	r := failing("gdpr-art5-1c", art5_1c_problems)
} else := r if {
	count(unknown_columns) > 0
	listed := names(unknown_columns)
	msg := concat("", ["the model's node has no column lineage and the columns of ", listed, " are not recorded: which personal data reaches the model cannot be told"])
	subjects := sort(unknown_columns)
	ev := evidence_for(unknown_columns)
	r := lib.result("gdpr-art5-1c", "not_evaluated", "verified", msg, subjects, ev)
} else := r if {
	msg := minimisation_message
	r := lib.result("gdpr-art5-1c", "pass", "verified", msg, governed_subjects, governed_evidence)
}

minimisation_message := "the model's node has no column lineage; no personal column of the data it was trained on is outside its approved features" if {
	count(model_edges) == 0
} else := "every feature of the model is among its approved features" if {
	count(unapproved_edges) == 0
} else := msg if {
	features := {e.field | some e in unapproved_edges}
	sorted := sort(features)
	listed := concat(", ", sorted)
	msg := concat("", ["the features outside the model's approved features (", listed, ") carry no personal data, as the column lineage shows"])
}

# --- Art. 5(1)(e): storage limitation ----------------------------------------------------------

retention_max := m if {
	m := lib.config.retention_max_days
	is_number(m)
} else := null

nanoseconds_per_day := 86400000000000

# Beyond this many days, collected_at + retention passes the last time a nanosecond count can
# hold (2262): no evaluation time can be after it, and the product would overflow rego-cpp's
# 64-bit integers where OPA's are unbounded.
unbounded_days := 106751

# Anonymised data is no longer personal data (Recital 26): no retention limit applies to it.
retained_at := {i | some i in governed_at; not input.datasets[i].classification.anonymised == true}

retained := {input.datasets[i].node | some i in retained_at}

anonymised := governed - retained

art5_1e_problems := all if {
	part1 := {p |
		some i in retained_at
		d := input.datasets[i]
		c := d.classification
		is_object(c)
		collected_at := object.get(c, "collected_at", null)
		not is_string(collected_at)
		p := {"node": d.node, "why": [d.node, ": no collection time recorded (collected_at), so its storage limit cannot be shown"]}
	}
	part2 := {p |
		some i in retained_at
		d := input.datasets[i]
		c := d.classification
		is_object(c)
		retention_days := object.get(c, "retention_days", null)
		not is_number(retention_days)
		p := {"node": d.node, "why": [d.node, ": no retention period recorded (retention_days)"]}
	}
	unclassified_part := {p |
		some n in unclassified
		p := {"node": n, "why": [n, ": no classification, so no collection time or retention period is recorded"]}
	}
	part3 := {p |
		some i in retained_at
		d := input.datasets[i]
		days := d.classification.retention_days
		is_number(days)
		days < 0
		p := {"node": d.node, "why": [d.node, ": a negative retention period (", days, " days)"]}
	}
	part4 := {p |
		retention_max != null
		some i in retained_at
		d := input.datasets[i]
		days := d.classification.retention_days
		is_number(days)
		days > retention_max
		p := {"node": d.node, "why": [d.node, ": retention of ", days, " days exceeds the configured maximum of ", retention_max, " days"]}
	}
	# Kept no longer than necessary: at the limit itself the data may still be used, one instant
	# after it may not.
	part5 := {p |
		now := lib.ns(input.evaluated_at)
		some i in retained_at
		d := input.datasets[i]
		collected := d.classification.collected_at
		is_string(collected)
		days := d.classification.retention_days
		is_number(days)
		days >= 0
		days < unbounded_days
		start := lib.ns(collected)
		limit := start + (days * nanoseconds_per_day)
		now > limit
		p := {"node": d.node, "why": [d.node, ": collected at ", collected, " and kept for ", days, " days, so its retention ended before ", input.evaluated_at]}
	}
	all := ((((part1 | part2) | part3) | part4) | part5) | unclassified_part
}

art5_1e := r if {
	count(governed) == 0
	r := not_applicable("gdpr-art5-1e", "no personal data under the GDPR upstream of the model")
} else := r if {
	count(art5_1e_problems) > 0
	r := failing("gdpr-art5-1e", art5_1e_problems)
} else := r if {
	msg := storage_message(retained, anonymised)
	r := lib.result("gdpr-art5-1e", "pass", "verified", msg, governed_subjects, governed_evidence)
}

storage_message(retained, anonymised) := msg if {
	count(anonymised) == 0
	kept := names(retained)
	msg := concat("", ["every personal dataset (", kept, ") is within its retention period at ", input.evaluated_at])
} else := msg if {
	count(retained) == 0
	sorted := sort(anonymised)
	anon := concat(", ", sorted)
	msg := concat("", ["the personal datasets are anonymised (", anon, "), so no retention limit applies"])
} else := msg if {
	kept := names(retained)
	sorted := sort(anonymised)
	anon := concat(", ", sorted)
	msg := concat("", [kept, " are within their retention periods at ", input.evaluated_at, "; ", anon, " are anonymised"])
}

# --- Art. 25: data protection by design and by default -----------------------------------------

# Direct identifiers: columns of governed datasets tagged "pii=direct".
direct_identifiers := [{"node": x[0], "field": x[1], "column": c} |
	some x in column_tags
	x[3] == "pii=direct"
	x[0] in governed
	c := concat("#", [x[0], x[1]])
]

# Datasets whose direct identifiers are justified (dpbd_justification_ref).
justified := {d.node |
	some i in governed_at
	d := input.datasets[i]
	lib.recorded(d.classification.dpbd_justification_ref)
}

unjustified := [id | some id in direct_identifiers; not id.node in justified]

# Datasets some recorded column lineage reads from.
read_by_column := {e.input_node | some e in column_edges}

direct_at_distance_1 := {d.node | some i in governed_at; d := input.datasets[i]; d.distance == 1}

# Column edges that read an unjustified direct identifier. The join is on strings only: with a
# function beside it in one body, rego-cpp would call the function for every pair it tries.
unjustified_columns := {id.column | some id in unjustified}

exposed_edges := [e | some e in column_edges; e.to in unjustified_columns]

# Those edges, with their transformation lower-cased and without spaces (the facet's JSON as the
# lineage records it).
exposures := [[e, u] |
	some e in exposed_edges
	text := lib.text(e.transformation)
	t := lower(text)
	u := replace(t, " ", "")
]

# A column edge protects a direct identifier when it masks or pseudonymises it (the facet's
# "masking": true, or a transformation naming hashing, tokenisation, pseudonymisation,
# encryption, masking), or when the identifier only steers the derivation (an INDIRECT
# transformation such as a join key) and its values do not flow into the output.
protective(u) if contains(u, "\"masking\":true")

protective(u) if {
	cleared := replace(u, "\"masking\":false", "")
	some word in ["hash", "pseudonym", "token", "encrypt", "mask", "sha256", "hmac"]
	contains(cleared, word)
}

protective(u) if {
	contains(u, "\"type\":\"indirect\"")
	not contains(u, "\"type\":\"direct\"")
}

art25_problems := all if {
	exposed := {p |
		some x in exposures
		not protective(x[1])
		e := x[0]
		p := {"node": e.input_node, "why": ["direct identifier ", e.input_node, "#", e.input_field, " flows into ", e.node, "#", e.field, " without pseudonymisation (transformation: ", e.transformation, ") and no justification (dpbd_justification_ref) is recorded"]}
	}

	# Read whole by the training run, with no column lineage showing the identifier left out.
	read_whole := {p |
		count(model_edges) == 0
		some id in unjustified
		id.node in direct_at_distance_1
		not id.node in read_by_column
		p := {"node": id.node, "why": ["direct identifier ", id.node, "#", id.field, " is in data the training run read, and no column lineage shows it left out or pseudonymised; no justification (dpbd_justification_ref) is recorded"]}
	}
	all := exposed | read_whole
}

# Further upstream with no column lineage from its dataset: where it went cannot be told.
art25_unknown := [id |
	some id in unjustified
	not id.node in direct_at_distance_1
	not id.node in read_by_column
]

art25 := r if {
	count(direct_identifiers) == 0
	r := not_applicable("gdpr-art25", "no direct identifier (a column tagged pii=direct) in the personal data upstream of the model")
} else := r if {
	count(art25_problems) > 0
	r := failing("gdpr-art25", art25_problems)
} else := r if {
	count(art25_unknown) > 0
	r := identifiers_result("not_evaluated", art25_unknown, "no column lineage records where the direct identifiers ", " went, so whether they were pseudonymised cannot be told")
} else := r if {
	r := identifiers_result("pass", direct_identifiers, "the direct identifiers ", " are pseudonymised or left out wherever the column lineage carries them, or their use is justified")
}

identifiers_result(status, ids, before, after) := r if {
	shown := {id.column | some id in ids}
	columns := sort(shown)
	listed := concat(", ", columns)
	msg := concat("", [before, listed, after])
	nodes := {id.node | some id in ids}
	ev := evidence_for(nodes)
	subjects := sort(nodes)
	r := lib.result("gdpr-art25", status, "verified", msg, subjects, ev)
}
