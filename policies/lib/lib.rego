# Shared rules for every framework package: the result a control reports, and the facts about
# datasets that several controls need (is it personal data, special category, where is it).
#
# Written for both engines the service runs (OPA, and the embedded rego-cpp engine): no `with`,
# no rego.metadata, no json.match_schema, no object.get with a path array; times in the input are
# RFC 3339 with "+00:00" (never "Z") and of one fixed width, so they also compare as strings.
package governance.lib

import rego.v1

catalog := data.governance.catalog.controls

config := data.governance.config

# The result a control reports (the gate adds the catalog's framework, article, title and the
# enforcement in force). `status` is pass, fail, not_applicable or not_evaluated; `basis` is
# verified (decided from evidence) or declared (someone's statement taken as given, e.g. a
# lawful basis); `subjects` names what the result is about (lineage node ids, the model digest);
# `evidence` lists the ledger indexes (or digests) it rests on.
result(id, status, basis, message, subjects, evidence) := {
	"control": id,
	"status": status,
	"basis": basis,
	"message": message,
	"subjects": subjects,
	"evidence": evidence,
}

# --- personal data -----------------------------------------------------------------------------

personal_flags := {"personal_data", "special_category", "criminal_offence", "children"}

pii_tags := {"pii", "personal", "personal_data", "sensitive"}

special_tags := {"special_category", "special"}

# The key of a tag such as "pii" or "pii=direct", lower-cased.
tag_key(tag) := k if {
	parts := split(tag, "=")
	k := lower(parts[0])
}

# The value of a "key=value" tag, or "" for a bare key.
tag_value(tag) := v if {
	parts := split(tag, "=")
	count(parts) > 1
	v := lower(parts[1])
} else := ""

personal(d) if {
	some flag in personal_flags
	d.classification[flag] == true
}

personal(d) if {
	some tag in d.tags
	tag_key(tag) in pii_tags
}

personal(d) if {
	some f in d.fields
	some tag in f.tags
	tag_key(tag) in pii_tags
}

special_category(d) if d.classification.special_category == true

special_category(d) if {
	some tag in d.tags
	tag_key(tag) in special_tags
}

special_category(d) if {
	some f in d.fields
	some tag in f.tags
	tag_key(tag) in special_tags
}

# Datasets the model was trained on, directly or further upstream (not the model's own node).
upstream := [d |
	some d in input.datasets
	d.distance > 0
]

# The upstream datasets that hold personal data.
personal_datasets := [d |
	some d in upstream
	personal(d)
]

# The jurisdictions a dataset's classification names (upper-cased).
jurisdictions(d) := {upper(j) | some j in d.classification.jurisdictions}

# --- values and times --------------------------------------------------------------------------

# A classification field, or `fallback` when the dataset has no classification or not that field.
field(d, name, fallback) := v if {
	v := d.classification[name]
	v != null
} else := fallback

# A value if it is a string, else "". Builtins such as lower() raise a type error on null in
# OPA (an error for the whole decision) but are merely undefined in the embedded engine: text
# that may be null goes through here first, so both engines decide alike.
text(v) := v if {
	is_string(v)
} else := ""

# Whether a reference (ticket id, URL, sha256: of a document) is recorded: a non-empty string.
recorded(ref) if {
	is_string(ref)
	trim_space(ref) != ""
}

# Nanoseconds since the epoch of an input time.
ns(t) := n if {
	n := time.parse_rfc3339_ns(t)
}

# The node ids of datasets, sorted (a result's subjects).
nodes(datasets) := sort([d.node | some d in datasets])

# The ledger indexes that assert what is said about datasets, sorted and distinct.
evidence_of(datasets) := sort({i |
	some d in datasets
	some i in d.evidence
})

# The declaration behind a dataset's classification, for "declared" results: who and when.
declared_by(datasets) := sort({sprintf("%s at %s (entry %d)", [d.declaration.declared_by, d.declaration.declared_at, d.declaration.index]) |
	some d in datasets
	d.declaration.declared_by != null
})
