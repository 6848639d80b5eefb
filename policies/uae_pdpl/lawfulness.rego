# PDPL Arts. 4-8: a basis for processing, the processing controls, and the record of processing.
package governance.uae_pdpl

import data.governance.lib
import rego.v1

# --- Art. 4 (+ Art. 6): processing without consent only in the listed cases --------------------

art4_cases := {lower(c) | some c in lib.config.pdpl_art4_cases}

# The PDPL has no legitimate-interests basis: a GDPR Art. 6(1)(f) basis, with or without an LIA,
# does not carry over, and it is named as such so the owner knows why. Nor is any other GDPR
# lawful_basis read as a PDPL one: the PDPL basis is its own declaration (pdpl_basis).
legitimate_interests := "legitimate_interests"

art4_problems := [p |
	some f in facts
	why := pdpl_art4_gap(f)
	p := pdpl_problem([f.node], why, f.evidence)
]

# Why a dataset has no PDPL basis; undefined when it has one (consent with its reference, or an
# Art. 4 case).
pdpl_art4_gap(f) := "no consent_ref and no PDPL Art. 4 case (pdpl_basis); its GDPR basis legitimate_interests is not a PDPL basis" if {
	f.pdpl_basis == ""
	not lib.recorded(f.consent_ref)
	f.lawful_basis == legitimate_interests
} else := "no consent_ref and no PDPL Art. 4 case (pdpl_basis): processing without consent is lawful only in the cases Art. 4 lists" if {
	f.pdpl_basis == ""
	not lib.recorded(f.consent_ref)
} else := "pdpl_basis is consent but no consent_ref records the consent (Art. 6: the controller must be able to prove it)" if {
	f.pdpl_basis == "consent"
	not lib.recorded(f.consent_ref)
} else := "pdpl_basis legitimate_interests is not a PDPL basis: Art. 4 lists no legitimate-interests case" if {
	f.pdpl_basis == legitimate_interests
} else := why if {
	not f.pdpl_basis in {"", "consent"}
	not f.pdpl_basis in art4_cases
	why := concat("", ["pdpl_basis '", f.pdpl_basis, "' is neither consent nor an Art. 4 case of config pdpl_art4_cases"])
}

art4 := r if {
	in_scope
	count(art4_problems) > 0
	r := pdpl_failed("pdpl-art4", art4_problems, "Personal data of UAE data subjects is processed without consent or an Art. 4 case")
} else := r if {
	in_scope
	bases := concat("; ", sort([t | some f in facts; t := pdpl_basis_text(f)]))
	message := concat("", ["Every AE personal dataset has a PDPL basis (", bases, "), declared by ", scoped_declarants, "; the consent's validity (Art. 6: clear, specific, withdrawable) and the case's fit are that declaration, not verified"])
	r := pdpl_passed("pdpl-art4", "declared", message)
} else := pdpl_out_of_scope("pdpl-art4")

pdpl_basis_text(f) := t if {
	f.pdpl_basis in {"", "consent"}
	t := concat("", [f.node, ": consent ", f.consent_ref])
} else := t if {
	t := concat("", [f.node, ": Art. 4 case ", f.pdpl_basis])
}

# --- Art. 5: processing controls -----------------------------------------------------------------

# The model's purpose ("" when blank), compared with each dataset's purposes as written.
model_purpose := input.model.purpose if {
	lib.recorded(input.model.purpose)
} else := ""

now_ns := lib.ns(input.evaluated_at)

art5_problems := array.concat(array.concat(purposeless_model, purpose_gaps), retention_gaps)

purposeless_model := [p |
	model_purpose == ""
	p := pdpl_model_problem("the model declares no purpose: processing needs a specific and clear purpose")
]

purpose_gaps := [p |
	some f in facts
	why := pdpl_purpose_gap(f)
	p := pdpl_problem([f.node], why, f.evidence)
]

retention_gaps := [p |
	some f in facts
	why := pdpl_retention_gap(f)
	p := pdpl_problem([f.node], why, f.evidence)
]

# Art. 5: a specific and clear purpose, and no later processing incompatible with it (a purpose
# similar or close to the one of collection is allowed: compatibility_ref records that finding).
pdpl_purpose_gap(f) := why if {
	model_purpose != ""
	not model_purpose in f.purposes
	not lib.recorded(f.compatibility_ref)
	listed := concat(", ", f.purposes)
	why := concat("", ["its purposes [", listed, "] do not include the model's purpose '", model_purpose, "' and no compatibility_ref records that purpose as similar or close to them"])
}

# Art. 5: not kept after the purpose is fulfilled, unless anonymised. The period is the declared
# retention, and at exactly collected_at + retention_days the data is still within it.
pdpl_retention_gap(f) := "neither anonymised nor given a collected_at and retention_days: it cannot be shown not to be kept after its purpose is fulfilled" if {
	f.anonymised != true
	not pdpl_retention_known(f)
} else := why if {
	f.anonymised != true
	start := lib.ns(f.collected_at)
	limit := pdpl_retention_ns(f.retention_days)
	elapsed := now_ns - start
	elapsed > limit
	days := format_int(f.retention_days, 10)
	why := concat("", ["collected at ", f.collected_at, " and kept for ", days, " days: its retention period is over at ", input.evaluated_at, " and it is not anonymised"])
}

# A retention period in nanoseconds. Capped at 100000 days (longer than any time the engines can
# represent has elapsed) so that it fits in the embedded engine's 64-bit integers; OPA's are
# unbounded, and both must decide alike. (Not min(): the embedded engine's min([365, 100000]) is
# 100000.)
pdpl_retention_ns(days) := n if {
	days <= 100000
	n := (days * 86400) * 1000000000
} else := 8640000000000000000

pdpl_retention_known(f) if {
	pdpl_is_time(f.collected_at)
	is_number(f.retention_days)
}

art5 := r if {
	in_scope
	count(art5_problems) > 0
	r := pdpl_failed("pdpl-art5", art5_problems, "Personal data of UAE data subjects is processed outside its purpose or kept after it")
} else := r if {
	in_scope
	periods := concat("; ", sort([t | some f in facts; t := pdpl_retention_text(f)]))
	message := concat("", ["Every AE personal dataset records the model's purpose '", model_purpose, "' (or a compatible one) and is anonymised or within its retention period (", periods, "); purposes and periods declared by ", scoped_declarants, "; accuracy has no evidence field and is not checked"])
	r := pdpl_passed("pdpl-art5", "declared", message)
} else := pdpl_out_of_scope("pdpl-art5")

pdpl_retention_text(f) := t if {
	f.anonymised == true
	t := concat("", [f.node, ": anonymised"])
} else := t if {
	days := format_int(f.retention_days, 10)
	t := concat("", [f.node, ": ", days, " days from ", f.collected_at])
}

# --- Art. 7 (+ Art. 8): the special record of personal data; processors' instructions ------------

# Art. 7: the special record of personal data.
missing_records := [p |
	some f in facts
	not lib.recorded(f.ropa_ref)
	why := "no PDPL record of its processing (ropa_ref): Art. 7 requires a special record of personal data"
	p := pdpl_problem([f.node], why, f.evidence)
]

# Art. 8: a processor processes only on the controller's documented instructions.
uninstructed_processors := [p |
	some f in facts
	is_object(f.processor)
	not lib.recorded(f.processor.instructions_ref)
	why := concat("", ["its processor ", f.processor.name, " has no documented instructions (processor.instructions_ref, Art. 8)"])
	p := pdpl_problem([f.node], why, f.evidence)
]

# The input does not say which job read which dataset, so every job on the model's lineage that
# ran on a processor is taken to process the UAE personal data.
uninstructed_jobs := [p |
	in_scope
	some j in input.jobs
	is_object(j.processor)
	not lib.recorded(j.processor.instructions_ref)
	why := concat("", ["runs on processor ", j.processor.name, ", which has no documented instructions (processor.instructions_ref, Art. 8)"])
	evidence := sort({i | some run in j.runs; some i in run.evidence})
	p := pdpl_problem([j.node], why, evidence)
]

art7_problems := array.concat(array.concat(missing_records, uninstructed_processors), uninstructed_jobs)

art7 := r if {
	in_scope
	count(art7_problems) > 0
	r := pdpl_failed("pdpl-art7", art7_problems, "The PDPL record of processing or a processor's instructions are missing")
} else := r if {
	in_scope
	records := concat("; ", sort([t | some f in facts; t := concat("", [f.node, ": ", f.ropa_ref])]))
	message := concat("", ["Every AE personal dataset has a PDPL record of processing (", records, ") and every processor documented instructions; the records' content is declared by ", scoped_declarants])
	r := pdpl_passed("pdpl-art7", "declared", message)
} else := pdpl_out_of_scope("pdpl-art7")
