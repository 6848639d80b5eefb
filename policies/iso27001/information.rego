# What is known about the information the model rests on: A.5.9 + A.5.12, A.8.11 + A.8.33, and
# A.5.31 + A.5.34.
package governance.iso27001

import data.governance.lib
import rego.v1

# --- A.5.9 + A.5.12 Inventory and classification ------------------------------------------------

inventory_findings := (model | unowned) | unclassified if {
	model := {[digest, "the model has no owner (model.owner)"] | not lib.recorded(input.model.owner)}
	unowned := {[d.node, msg] |
		some d in lib.upstream
		not owned(d)
		msg := concat("", [d.node, " has no owner"])
	}
	unclassified := {[d.node, msg] |
		some d in lib.upstream
		not classified(d)
		msg := concat("", [d.node, " has no classification (no governance classification, no classification tag)"])
	}
}

owned(d) if {
	some o in d.owners
	lib.recorded(o)
}

classified(d) if d.classification != null

classified(d) if {
	some t in d.tags
	classification_tag(t)
}

# Tags that state a classification: "classification=confidential" and its kin, or a bare label.
classification_keys := {"classification", "data_classification", "confidentiality", "sensitivity", "security_classification"}

classification_labels := {"public", "internal", "confidential", "restricted", "secret"}

classification_tag(t) if {
	k := lib.tag_key(t)
	k in classification_keys
}

classification_tag(t) if {
	label := lower(t)
	label in classification_labels
}

inventory_pass_message := msg if {
	owner := shown(input.model.owner)
	msg := concat("", ["the model (owner ", owner, ") and its ", num(count(lib.upstream)), " upstream dataset(s) are registered with an owner and a classification"])
}

inventory_evidence := lib.evidence_of(lib.upstream)

inventory := r if {
	subjects := array.concat([digest], lib.nodes(lib.upstream))
	r := judged("iso-a5.9-12", inventory_findings, "verified", inventory_pass_message, subjects, inventory_evidence)
}

# --- A.8.11 + A.8.33 Data masking; test information ---------------------------------------------

test_datasets := [d |
	some d in lib.upstream
	for_testing(d)
]

for_testing(d) if {
	some u in d.used_for
	use := lower(u)
	use in {"test", "evaluation"}
}

# Fields tagged pii, pii=direct, pii_email, …
pii_fields(d) := sort({f.name |
	some f in d.fields
	some t in f.tags
	k := lib.tag_key(t)
	startswith(k, "pii")
})

masked(d) if d.classification.pseudonymised == true

masked(d) if d.classification.anonymised == true

test_data_approved(d) if lib.recorded(d.classification.test_data_approval_ref)

# Test and evaluation datasets with personal-data fields: they pass only on someone's word that
# they are masked or approved for testing.
pii_test_datasets := [d |
	some d in test_datasets
	fields := pii_fields(d)
	count(fields) > 0
]

masking_findings := {[d.node, msg] |
	some d in pii_test_datasets
	not masked(d)
	not test_data_approved(d)
	names := pii_fields(d)
	fields := concat(", ", names)
	uses := concat(", ", d.used_for)
	msg := concat("", [d.node, ", used for ", uses, ", has unmasked personal-data fields (", fields, ") and no approval to use them as test data"])
}

masking_basis := "declared" if {
	count(masking_findings) == 0
	count(pii_test_datasets) > 0
} else := "verified"

masking_pass_message := msg if {
	count(pii_test_datasets) > 0
	names := concat(", ", lib.nodes(pii_test_datasets))
	who := declarers(pii_test_datasets)
	msg := concat("", ["test and evaluation datasets with personal-data fields (", names, ") are declared masked or approved as test data (declared by ", who, ")"])
} else := msg if {
	names := concat(", ", lib.nodes(test_datasets))
	msg := concat("", ["no test or evaluation dataset (", names, ") has personal-data fields"])
}

masking := lib.result("iso-a8.11-33", "not_applicable", "verified", "no upstream dataset is used for testing or evaluation", [digest], []) if {
	count(test_datasets) == 0
} else := r if {
	subjects := lib.nodes(test_datasets)
	evidence := lib.evidence_of(test_datasets)
	r := judged("iso-a8.11-33", masking_findings, masking_basis, masking_pass_message, subjects, evidence)
}

# --- A.5.31 + A.5.34 Legal requirements; privacy and protection of PII --------------------------

# Read from the gate's routing, not its results: the results include this control's own.
applicable_frameworks := sort([f | some f in data.governance.gate.applicable])

evaluated_frameworks := data.governance.gate.evaluated

privacy_results contains r if {
	"gdpr" in evaluated_frameworks
	some r in data.governance.gdpr.results
}

privacy_results contains r if {
	"uae_pdpl" in evaluated_frameworks
	some r in data.governance.uae_pdpl.results
}

privacy_failures := {r.control | some r in privacy_results; r.status == "fail"}

# A privacy failure the gate lets through only as a warning does not block here either: the
# catalog's enforcement (operator overrides included) decides what must be waived.
blocking_privacy_failures := {c | some c in privacy_failures; lib.catalog[c].enforcement == "deny"}

waived_privacy := {[c, w.index] |
	some c in blocking_privacy_failures
	w := data.governance.gate.waiver_for(c)
}

# Each personal upstream dataset's jurisdictions, listed: [node, "AE, EU"] ("" for none).
personal_jurisdictions := {[d.node, listed] |
	some d in lib.personal_datasets
	js := lib.jurisdictions(d)
	listed := concat(", ", sort(js))
}

unwaived_privacy := blocking_privacy_failures - {c[0] | some c in waived_privacy}

legal_findings := (unrouted | no_jurisdiction) | unwaived if {
	unrouted := {[digest, "the decision records no applicable framework"] | count(applicable_frameworks) == 0}

	# Personal data with no jurisdiction: no one can say which law applies to it.
	no_jurisdiction := {[p[0], msg] |
		some p in personal_jurisdictions
		p[1] == ""
		msg := concat("", [p[0], " holds personal data but declares no jurisdiction, so which privacy law applies cannot be told"])
	}
	unwaived := {[digest, msg] |
		some c in unwaived_privacy
		msg := concat("", ["the privacy control ", c, " fails and is not waived"])
	}
}

legal_basis := "declared" if {
	count(personal_jurisdictions) > 0
} else := "verified"

jurisdiction_note := msg if {
	count(personal_jurisdictions) > 0
	each := sort([s | some p in personal_jurisdictions; s := concat("", [p[0], ": ", p[1]])])
	who := declarers(lib.personal_datasets)
	listed := concat("; ", each)
	msg := concat("", ["every personal upstream dataset declares its jurisdictions (", listed, "; declared by ", who, ")"])
} else := "no personal data upstream"

privacy_note := msg if {
	count(waived_privacy) > 0
	waived := concat(", ", sort({c[0] | some c in waived_privacy}))
	msg := concat("", ["privacy controls failing under a valid waiver: ", waived])
} else := "no evaluated privacy control fails unwaived"

warned_privacy_note := msg if {
	warned := privacy_failures - blocking_privacy_failures
	count(warned) > 0
	msg := concat("", ["; failing but warn-enforced (reported only): ", concat(", ", sort(warned))])
} else := ""

legal_pass_message := msg if {
	applicable := concat(", ", applicable_frameworks)
	evaluated := concat(", ", evaluated_frameworks)
	msg := concat("", ["applicable frameworks: ", applicable, " (evaluated: ", evaluated, "); ", jurisdiction_note, "; ", privacy_note, warned_privacy_note])
}

legal_evidence := sort(personal | waivers) if {
	indexes := lib.evidence_of(lib.personal_datasets)
	personal := {i | some i in indexes}
	waivers := {c[1] | some c in waived_privacy}
}

legal_requirements := judged("iso-a5.31-34", legal_findings, legal_basis, legal_pass_message, [digest], legal_evidence)
