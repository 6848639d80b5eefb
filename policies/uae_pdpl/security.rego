# PDPL Art. 10 (+ Arts. 11, 12: the data protection officer), Art. 20 (security of personal data)
# and Art. 21 (the personal data protection impact assessment).
package governance.uae_pdpl

import data.governance.lib
import rego.v1

# The DPIA on record, or {} when there is none.
dpia := input.assessments.dpia if {
	is_object(input.assessments.dpia)
} else := {}

dpia_ref := r if {
	r := object.get(dpia, "ref", null)
	lib.recorded(r)
} else := "(no ref)"

# Who declared the DPIA (its adequacy, the DPO's advice) and when.
dpia_declared := t if {
	who := object.get(dpia, "declared_by", null)
	lib.recorded(who)
	v := object.get(dpia, "declared_at", null)
	at := lib.text(v)
	t := concat("", [who, " at ", at])
} else := "no declarant on record"

sensitive_names := concat(", ", sort([f.node | some f in sensitive_facts]))

# --- Art. 10: appointing a DPO -------------------------------------------------------------------

# Art. 10(1) cases, as far as the input shows them. The volume of data is not in the input, so
# training a model on sensitive data counts as the systematic, comprehensive assessment of it
# that Art. 10(1) names; a DPIA rating the residual risk high stands for the high risk from new
# technologies or volume.
dpo_triggers contains t if {
	count(sensitive_facts) > 0
	t := concat("", ["sensitive personal data (", sensitive_names, ") is assessed systematically to train the model"])
}

dpo_triggers contains "the model makes automated decisions with legal or similarly serious effect" if {
	automated_legal_effect
}

dpo_triggers contains "the DPIA rates the residual risk high" if {
	v := object.get(dpia, "residual_risk", null)
	t := lib.text(v)
	lower(t) == "high"
}

dpo_trigger_text := concat("; ", sort([t | some t in dpo_triggers]))

# The configured DPO: null by default, and then no DPO is appointed as far as the policy can tell.
art10_problems contains p if {
	not lib.recorded(lib.config.pdpl_dpo_ref)
	p := pdpl_model_problem("no DPO is configured (config pdpl_dpo_ref is not set), so none is shown appointed")
}

# Art. 11: the DPO advises on the impact assessment.
art10_problems contains p if {
	count(dpia) == 0
	p := pdpl_model_problem("no DPIA is on record, so no advice of the DPO on it (Art. 11)")
}

art10_problems contains p if {
	count(dpia) > 0
	v := object.get(dpia, "dpo_advice_ref", null)
	not lib.recorded(v)
	why := concat("", ["DPIA ", dpia_ref, " records no advice of the DPO (dpo_advice_ref, Art. 11)"])
	p := pdpl_model_problem(why)
}

art10 := r if {
	in_scope
	count(dpo_triggers) > 0
	count(art10_problems) > 0
	intro := concat("", ["A DPO is required (Art. 10(1): ", dpo_trigger_text, ") but not shown appointed and consulted"])
	r := pdpl_failed("pdpl-art10", art10_problems, intro)
} else := r if {
	in_scope
	count(dpo_triggers) > 0
	message := concat("", ["A DPO is appointed (", lib.config.pdpl_dpo_ref, ") and advised on DPIA ", dpia_ref, " (", dpia.dpo_advice_ref, "), as Art. 10(1) requires here (", dpo_trigger_text, "); the advice is declared by ", dpia_declared])
	r := lib.result("pdpl-art10", "pass", "declared", message, [input.model.digest], [])
} else := r if {
	in_scope
	message := "No Art. 10(1) case: no sensitive personal data in scope, no automated decision with legal effect, and the DPIA does not rate the residual risk high"
	r := lib.result("pdpl-art10", "not_applicable", "verified", message, [input.model.digest], [])
} else := pdpl_out_of_scope("pdpl-art10")

# --- Art. 20: personal data security ------------------------------------------------------------

# Art. 20 names encryption and pseudonymisation among the measures: one of them must be recorded,
# and access restricted to authorised persons.
art20_problems := array.concat(
	[p |
		some f in facts
		f.encryption_at_rest != true
		f.pseudonymised != true
		enc := sprintf("%v", [f.encryption_at_rest])
		pse := sprintf("%v", [f.pseudonymised])
		why := concat("", ["neither encryption at rest nor pseudonymisation is recorded (encryption_at_rest ", enc, ", pseudonymised ", pse, ")"])
		p := pdpl_problem([f.node], why, f.evidence)
	],
	[p |
		some f in facts
		not lib.recorded(f.access_policy_ref)
		p := pdpl_problem([f.node], "no access_policy_ref: access restricted to authorised persons is not recorded", f.evidence)
	],
)

art20 := r if {
	in_scope
	count(art20_problems) > 0
	r := pdpl_failed("pdpl-art20", art20_problems, "Security measures for UAE personal data are not recorded")
} else := r if {
	in_scope
	measures := concat("; ", sort([t | some f in facts; t := pdpl_security_text(f)]))
	message := concat("", ["Every AE personal dataset is encrypted at rest or pseudonymised and access-restricted (", measures, "), declared by ", scoped_declarants, "; availability and restore measures have no evidence field and are not checked"])
	r := pdpl_passed("pdpl-art20", "declared", message)
} else := pdpl_out_of_scope("pdpl-art20")

pdpl_security_text(f) := t if {
	f.encryption_at_rest == true
	f.pseudonymised == true
	t := concat("", [f.node, ": encrypted, pseudonymised, access policy ", f.access_policy_ref])
} else := t if {
	f.encryption_at_rest == true
	t := concat("", [f.node, ": encrypted, access policy ", f.access_policy_ref])
} else := t if {
	t := concat("", [f.node, ": pseudonymised, access policy ", f.access_policy_ref])
}

# --- Art. 21: the personal data protection impact assessment -------------------------------------

# Art. 21: an assessment before processing that uses new technologies (ML training is one when
# config new_technology_is_ml says so) or involves sensitive data (its volume is not in the input,
# so any sensitive data in scope counts).
dpia_triggers contains "ML training is a new technology (config new_technology_is_ml)" if {
	lib.config.new_technology_is_ml == true
}

dpia_triggers contains t if {
	count(sensitive_facts) > 0
	t := concat("", ["sensitive personal data is processed (", sensitive_names, ")"])
}

dpia_trigger_text := concat("; ", sort([t | some t in dpia_triggers]))

dpia_status := t if {
	v := object.get(dpia, "status", null)
	t := lib.text(v)
}

dpia_approved_at := object.get(dpia, "approved_at", null)

# Why the DPIA does not stand (undefined when it is approved, at or before the decision time).
dpia_gap := "no DPIA is on record (assessments.dpia)" if {
	count(dpia) == 0
} else := why if {
	dpia_status != "approved"
	why := concat("", ["DPIA ", dpia_ref, " is '", dpia_status, "', not approved"])
} else := why if {
	not is_string(dpia_approved_at)
	why := concat("", ["DPIA ", dpia_ref, " is approved but records no approval time (approved_at)"])
} else := why if {
	dpia_approved_at > input.evaluated_at
	why := concat("", ["DPIA ", dpia_ref, " is approved only at ", dpia_approved_at, ", after this decision (", input.evaluated_at, ")"])
}

art21 := r if {
	in_scope
	count(dpia_triggers) > 0
	problem := pdpl_model_problem(dpia_gap)
	intro := concat("", ["A DPIA is required (Art. 21: ", dpia_trigger_text, ") but not approved"])
	r := pdpl_failed("pdpl-art21", [problem], intro)
} else := r if {
	in_scope
	count(dpia_triggers) > 0
	message := concat("", ["DPIA ", dpia_ref, " is approved at ", dpia_approved_at, ", as Art. 21 requires here (", dpia_trigger_text, "); its adequacy is declared by ", dpia_declared])
	r := lib.result("pdpl-art21", "pass", "declared", message, [input.model.digest], [])
} else := r if {
	in_scope
	message := "No Art. 21 case: ML training is not configured as a new technology and no sensitive personal data is in scope"
	r := lib.result("pdpl-art21", "not_applicable", "verified", message, [input.model.digest], [])
} else := pdpl_out_of_scope("pdpl-art21")
