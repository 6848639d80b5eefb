# Lawfulness: a basis for each processing (Art. 6), consent that covers the purpose and honours
# withdrawals (Art. 7), a condition for special categories (Art. 9) and an authority for
# criminal-offence data (Art. 10), and purpose limitation (Art. 5(1)(b)).
#
# A lawful basis, an Art. 9 condition or an Art. 10 authority cannot be shown valid from
# evidence: the rules check it is recorded and attributable, and a pass says it is declared,
# by whom and when. A field is read into a variable before a negation tests it (with the field
# undefined, `not f(x.y)` holds in rego-cpp but fails the body in OPA), and a dataset with no
# classification has a problem of its own: either way the check fails closed on both engines.
package governance.gdpr

import data.governance.lib
import rego.v1

results contains art6

results contains art7

results contains art9

results contains art10

results contains art5_1b

# --- Art. 6(1): lawfulness of processing -------------------------------------------------------

lawful_bases := {b | some b in lib.config.gdpr_lawful_bases}

art6_problems := all if {
	part1 := {p |
		some i in governed_at
		d := input.datasets[i]
		c := d.classification
		is_object(c)
		lawful_basis := object.get(c, "lawful_basis", null)
		not lib.recorded(lawful_basis)
		p := {"node": d.node, "why": [d.node, " has no lawful basis recorded (Art. 6(1))"]}
	}
	unclassified_part := {p |
		some n in unclassified
		p := {"node": n, "why": [n, " has no lawful basis recorded (Art. 6(1))"]}
	}
	part2 := {p |
		some i in governed_at
		d := input.datasets[i]
		basis := d.classification.lawful_basis
		lib.recorded(basis)
		not basis in lawful_bases
		p := {"node": d.node, "why": [d.node, " declares \"", basis, "\", which is not one of the Art. 6(1) bases"]}
	}
	# Legitimate interests need the balancing test on record (Art. 6(1)(f)).
	part3 := {p |
		some i in governed_at
		d := input.datasets[i]
		d.classification.lawful_basis == "legitimate_interests"
		c := d.classification
		is_object(c)
		lia_ref := object.get(c, "lia_ref", null)
		not lib.recorded(lia_ref)
		p := {"node": d.node, "why": [d.node, " relies on legitimate interests with no legitimate interests assessment recorded (lia_ref, Art. 6(1)(f))"]}
	}
	part4 := {p |
		some i in governed_at
		d := input.datasets[i]
		not d.node in attributed_nodes
		p := unattributed_problem(d, "a lawful basis rests on a declaration")
	}
	all := (((part1 | part2) | part3) | part4) | unclassified_part
}

art6 := r if {
	count(governed) == 0
	r := not_applicable("gdpr-art6", "no personal data under the GDPR upstream of the model")
} else := r if {
	count(art6_problems) > 0
	r := failing("gdpr-art6", art6_problems)
} else := r if {
	listed := [s |
		some i in governed_at
		d := input.datasets[i]
		s := concat("", [d.node, ": ", d.classification.lawful_basis])
	]
	sorted := sort(listed)
	bases := concat(", ", sorted)
	who := declarers(governed)
	msg := concat("", ["every personal dataset has an Art. 6(1) basis (", bases, "), declared by ", who])
	r := lib.result("gdpr-art6", "pass", "declared", msg, governed_subjects, governed_evidence)
}

# --- Art. 7(1) + 7(3): conditions for consent --------------------------------------------------

# An Art. 9(2)(a) condition is explicit consent: the conditions of Art. 7 apply to it as well.
explicit_consent_nodes := nodes if {
	conditions := [[d.node, u] |
		some i in governed_at
		d := input.datasets[i]
		condition := d.classification.art9_condition
		is_string(condition)
		c := lower(condition)
		u := replace(c, " ", "")
	]
	by_article := {x[0] | some x in conditions; contains(x[1], "9(2)(a)")}
	by_name := {x[0] | some x in conditions; x[1] == "explicit_consent"}
	nodes := by_article | by_name
}

consented_at := {i |
	some i in governed_at
	d := input.datasets[i]
	relies_on_consent(d)
}

consented := {input.datasets[i].node | some i in consented_at}

relies_on_consent(d) if d.classification.lawful_basis == "consent"

relies_on_consent(d) if d.node in explicit_consent_nodes

withdrawal_watermark := w if {
	w := requests.withdrawal_applied_through
	is_string(w)
} else := ""

art7_problems := all if {
	# Consent must be demonstrable (Art. 7(1)).
	part1 := {p |
		some i in consented_at
		d := input.datasets[i]
		c := d.classification
		is_object(c)
		consent_ref := object.get(c, "consent_ref", null)
		not lib.recorded(consent_ref)
		p := {"node": d.node, "why": [d.node, " relies on consent with no consent record (consent_ref, Art. 7(1))"]}
	}
	# Consent covers only the purposes it was given for (Art. 6(1)(a), 7(2)).
	part2 := {p |
		some i in consented_at
		d := input.datasets[i]
		model_purpose == ""
		p := {"node": d.node, "why": [d.node, " relies on consent, and the model declares no purpose to hold it against"]}
	}
	part3 := {p |
		some i in consented_at
		d := input.datasets[i]
		model_purpose != ""
		purposes := purposes_of(d)
		not model_purpose in purposes
		p := {"node": d.node, "why": [d.node, ": consent was not given for the model's purpose \"", model_purpose, "\" (consented purposes: ", purposes, ")"]}
	}
	# Withdrawn consent must be honoured in the data the model reads (Art. 7(3)): withdrawals must
	# have been applied at least up to the time the version read was written.
	part4 := {p |
		some i in consented_at
		d := input.datasets[i]
		withdrawal_watermark == ""
		p := {"node": d.node, "why": [d.node, " relies on consent, and no consent-withdrawal watermark is recorded (requests.withdrawal_applied_through, Art. 7(3))"]}
	}
	part5 := {p |
		some i in consented_at
		d := input.datasets[i]
		snapshot := object.get(d, "snapshot_time", null)
		not is_string(snapshot)
		p := {"node": d.node, "why": [d.node, " relies on consent, and the version read has no snapshot time, so withdrawals cannot be shown applied to it (Art. 7(3))"]}
	}
	part6 := {p |
		some i in consented_at
		d := input.datasets[i]
		withdrawal_watermark != ""
		is_string(d.snapshot_time)
		withdrawal_watermark < d.snapshot_time
		p := {"node": d.node, "why": [d.node, ": consent withdrawals are applied only through ", withdrawal_watermark, ", before its snapshot of ", d.snapshot_time, " (Art. 7(3))"]}
	}
	all := ((((part1 | part2) | part3) | part4) | part5) | part6
}

art7 := r if {
	count(consented) == 0
	r := not_applicable("gdpr-art7", "no personal data upstream of the model relies on consent")
} else := r if {
	count(art7_problems) > 0
	r := failing("gdpr-art7", art7_problems)
} else := r if {
	listed := names(consented)
	msg := concat("", ["consent is recorded for ", listed, ", covers the purpose \"", model_purpose, "\", and withdrawals are applied through ", withdrawal_watermark, ", after every snapshot read"])
	subjects := sort(consented)
	ev := evidence_for(consented)
	r := lib.result("gdpr-art7", "pass", "verified", msg, subjects, ev)
}

# --- Art. 9(1)-(2): special categories of personal data ----------------------------------------

art9_problems := all if {
	part1 := {p |
		some i in special_at
		d := input.datasets[i]
		c := d.classification
		is_object(c)
		art9_condition := object.get(c, "art9_condition", null)
		not lib.recorded(art9_condition)
		p := {"node": d.node, "why": [d.node, " holds special-category data (on the dataset or a column) with no Art. 9(2) condition recorded"]}
	}
	unclassified_part := {p |
		some n in special & unclassified
		p := {"node": n, "why": [n, " holds special-category data (on the dataset or a column) with no Art. 9(2) condition recorded"]}
	}
	# Explicit consent (Art. 9(2)(a)) must itself be on record.
	part2 := {p |
		some i in special_at
		d := input.datasets[i]
		d.node in explicit_consent_nodes
		c := d.classification
		is_object(c)
		consent_ref := object.get(c, "consent_ref", null)
		not lib.recorded(consent_ref)
		p := {"node": d.node, "why": [d.node, " relies on explicit consent (Art. 9(2)(a)) with no consent record (consent_ref)"]}
	}
	part3 := {p |
		some i in special_at
		d := input.datasets[i]
		not d.node in attributed_nodes
		p := unattributed_problem(d, "an Art. 9(2) condition rests on a declaration")
	}
	all := ((part1 | part2) | part3) | unclassified_part
}

art9 := r if {
	count(special) == 0
	r := not_applicable("gdpr-art9", "no special-category data (Art. 9(1)) upstream of the model, on any dataset or column")
} else := r if {
	count(art9_problems) > 0
	r := failing("gdpr-art9", art9_problems)
} else := r if {
	listed := [s |
		some i in special_at
		d := input.datasets[i]
		s := concat("", [d.node, ": ", d.classification.art9_condition])
	]
	sorted := sort(listed)
	conditions := concat(", ", sorted)
	who := declarers(special)
	msg := concat("", ["special-category data has an Art. 9(2) condition (", conditions, "), declared by ", who])
	subjects := sort(special)
	ev := evidence_for(special)
	r := lib.result("gdpr-art9", "pass", "declared", msg, subjects, ev)
}

# --- Art. 10: criminal convictions and offences ------------------------------------------------

criminal_at := {i | some i in governed_at; input.datasets[i].node in criminal_nodes}

criminal := {input.datasets[i].node | some i in criminal_at}

art10_problems := all if {
	part1 := {p |
		some i in criminal_at
		d := input.datasets[i]
		c := d.classification
		is_object(c)
		art10_authority_ref := object.get(c, "art10_authority_ref", null)
		not lib.recorded(art10_authority_ref)
		p := {"node": d.node, "why": [d.node, " holds criminal-offence data with no Art. 10 authority recorded (art10_authority_ref)"]}
	}
	unclassified_part := {p |
		some n in criminal & unclassified
		p := {"node": n, "why": [n, " holds criminal-offence data with no Art. 10 authority recorded (art10_authority_ref)"]}
	}
	part2 := {p |
		some i in criminal_at
		d := input.datasets[i]
		not d.node in attributed_nodes
		p := unattributed_problem(d, "an Art. 10 authority rests on a declaration")
	}
	all := (part1 | part2) | unclassified_part
}

art10 := r if {
	count(criminal) == 0
	r := not_applicable("gdpr-art10", "no criminal-offence data (Art. 10) upstream of the model")
} else := r if {
	count(art10_problems) > 0
	r := failing("gdpr-art10", art10_problems)
} else := r if {
	listed := [s |
		some i in criminal_at
		d := input.datasets[i]
		s := concat("", [d.node, ": ", d.classification.art10_authority_ref])
	]
	sorted := sort(listed)
	refs := concat(", ", sorted)
	who := declarers(criminal)
	msg := concat("", ["criminal-offence data is processed under a recorded authority (", refs, "), declared by ", who])
	subjects := sort(criminal)
	ev := evidence_for(criminal)
	r := lib.result("gdpr-art10", "pass", "declared", msg, subjects, ev)
}

# --- Art. 5(1)(b): purpose limitation ----------------------------------------------------------

# Governed datasets whose recorded purposes do not include the model's.
further_purpose_at := {i |
	some i in governed_at
	d := input.datasets[i]
	not purpose_recorded(d)
}

# The dataset's classification lists the model's purpose (a function, so that a dataset with no
# classification reads as "not recorded" on both engines).
purpose_recorded(d) if model_purpose in d.classification.purposes

further_purpose := {input.datasets[i].node | some i in further_purpose_at}

# A further purpose found compatible (Art. 6(4)), with that assessment recorded.
compatible(d) if {
	ref := d.classification.compatibility_ref
	lib.recorded(ref)
}

art5_1b_problems := all if {
	part1 := {p |
		model_purpose == ""
		some i in governed_at
		d := input.datasets[i]
		p := {"node": d.node, "why": [d.node, " is personal data, and the model declares no purpose (model.purpose) to hold against its purposes"]}
	}
	# A further purpose is allowed when found compatible (Art. 6(4)) and that assessment is recorded.
	part2 := {p |
		model_purpose != ""
		some i in further_purpose_at
		d := input.datasets[i]
		not compatible(d)
		purposes := purposes_of(d)
		p := {"node": d.node, "why": [d.node, " was not collected for \"", model_purpose, "\" (its purposes: ", purposes, ") and no compatibility assessment (Art. 6(4), compatibility_ref) is recorded"]}
	}
	all := part1 | part2
}

art5_1b := r if {
	count(governed) == 0
	r := not_applicable("gdpr-art5-1b", "no personal data under the GDPR upstream of the model")
} else := r if {
	count(art5_1b_problems) > 0
	r := failing("gdpr-art5-1b", art5_1b_problems)
} else := r if {
	how := purpose_fit(further_purpose)
	msg := concat("", ["the model's purpose \"", model_purpose, "\" is ", how])
	r := lib.result("gdpr-art5-1b", "pass", "verified", msg, governed_subjects, governed_evidence)
}

purpose_fit(reused) := "among the recorded purposes of every personal dataset" if {
	count(reused) == 0
} else := text if {
	listed := names(reused)
	text := concat("", ["among the recorded purposes of the personal datasets, or found compatible (Art. 6(4)) for ", listed])
}
