# The model as a whole: automated decisions about people (Art. 22), the impact assessment it
# needs (Art. 35) and prior consultation when a high risk remains (Art. 36).
#
# An Art. 22 exception and a DPIA's adequacy cannot be shown valid from evidence: the rules check
# they are recorded, current and attributable, and a pass says they are declared, by whom and
# when. Model-level declarations are on the model's own node (the dataset at distance 0).
package governance.gdpr

import data.governance.lib
import rego.v1

results contains art22

results contains art35

results contains art36

digest := input.model.digest

model_evidence := evidence_for(model_nodes)

# --- Art. 22(1)-(4): automated individual decision-making --------------------------------------

# Decisions based solely on automated processing with legal or similarly significant effects.
solely_automated if {
	input.model.use.automated_decision == true
	input.model.use.legal_or_similar_effect == true
}

# Art. 22(4): special categories only under Art. 9(2)(a) (explicit consent) or (g) (substantial
# public interest).
art22_4_condition_ok(condition) if {
	text := lib.text(condition)
	t := lower(text)
	u := replace(t, " ", "")
	some letter in {"9(2)(a)", "9(2)(g)"}
	contains(u, letter)
}

art22_4_condition_ok(condition) if {
	text := lib.text(condition)
	t := lower(text)
	t in {"explicit_consent", "substantial_public_interest"}
}

art22_problems := all if {
	part1 := {p |
		count(model_nodes) == 0
		p := {"node": digest, "why": ["the model's node is not in its lineage, so no Art. 22(2) exception or human-review channel is recorded for ", input.model.name]}
	}
	part2 := {p |
		some i in model_at
		m := input.datasets[i]
		c := m.classification
		is_object(c)
		art22_exception_ref := object.get(c, "art22_exception_ref", null)
		not lib.recorded(art22_exception_ref)
		p := {"node": m.node, "why": [m.node, ": no Art. 22(2) exception (contract, Union or Member State law, explicit consent) recorded (art22_exception_ref)"]}
	}
	unclassified_part := {p |
		some i in model_at
		m := input.datasets[i]
		not classified(m)
		p := {"node": m.node, "why": [m.node, ": the model's node has no classification, so no Art. 22(2) exception or human-review channel is declared"]}
	}

	# Art. 22(3): at least the right to obtain human intervention and to contest the decision.
	part3 := {p |
		some i in model_at
		m := input.datasets[i]
		c := m.classification
		is_object(c)
		human_review_ref := object.get(c, "human_review_ref", null)
		not lib.recorded(human_review_ref)
		p := {"node": m.node, "why": [m.node, ": no channel for human intervention and contesting the decision recorded (human_review_ref, Art. 22(3))"]}
	}
	part4 := {p |
		count(special) > 0
		some i in model_at
		m := input.datasets[i]
		c := m.classification
		is_object(c)
		art22_4_condition := object.get(c, "art22_4_condition", null)
		not lib.recorded(art22_4_condition)
		listed := names(special)
		p := {"node": m.node, "why": [m.node, ": the model decides on special-category data (", listed, ") with no Art. 22(4) condition recorded (art22_4_condition)"]}
	}
	part5 := {p |
		count(special) > 0
		some i in model_at
		m := input.datasets[i]
		condition := m.classification.art22_4_condition
		lib.recorded(condition)
		not art22_4_condition_ok(condition)
		p := {"node": m.node, "why": [m.node, ": the Art. 22(4) condition \"", condition, "\" is neither Art. 9(2)(a) nor 9(2)(g)"]}
	}
	part6 := {p |
		some i in model_at
		m := input.datasets[i]
		not m.node in attributed_nodes
		p := unattributed_problem(m, "the Art. 22 exception rests on a declaration")
	}
	all := (((((part1 | part2) | part3) | part4) | part5) | part6) | unclassified_part
}

art22 := r if {
	not solely_automated
	r := not_applicable("gdpr-art22", "the model's outputs are not declared to be used for automated decisions with legal or similarly significant effects (model.use)")
} else := r if {
	count(art22_problems) > 0
	r := failing("gdpr-art22", art22_problems)
} else := r if {
	declared := [text |
		some i in model_at
		m := input.datasets[i]
		exception := m.classification.art22_exception_ref
		review := m.classification.human_review_ref
		condition := art22_4_text(m)
		text := concat("", [exception, ", with human review at ", review, condition])
	]
	what := concat("; ", declared)
	who := declarers(model_nodes)
	msg := concat("", ["automated decisions with legal effect rest on the Art. 22(2) exception ", what, "; declared by ", who])
	subjects := sort(model_nodes)
	r := lib.result("gdpr-art22", "pass", "declared", msg, subjects, model_evidence)
}

art22_4_text(m) := text if {
	count(special) > 0
	text := concat("", [", and special-category data under the Art. 22(4) condition ", m.classification.art22_4_condition])
} else := ""

# --- Art. 35: data protection impact assessment ------------------------------------------------

trigger_config := c if {
	c := lib.config.dpia_triggers
	is_object(c)
} else := {}

trigger_on(name) if trigger_config[name] == true

children := governed & children_nodes

dpia_triggers := all if {
	# Why a DPIA is required, each trigger as configured: special categories (Art. 35(3)(b)),
	# children's data (a vulnerable-subjects criterion of the EDPB guidelines), systematic evaluation
	# with legal effect (Art. 35(3)(a)), and new technology (Art. 35(1)), which ML training is when
	# the configuration says so.
	part1 := {"special-category data (Art. 35(3)(b))" |
		trigger_on("special_category")
		count(special) > 0
	}
	part2 := {"children's data" |
		trigger_on("children")
		count(children) > 0
	}
	part3 := {"automated decisions with legal effect (Art. 35(3)(a))" |
		trigger_on("automated_decision_with_legal_effect")
		solely_automated
	}
	part4 := {"ML training as a new technology (Art. 35(1))" |
		trigger_on("new_technology")
		lib.config.new_technology_is_ml == true
		count(governed) > 0
	}
	all := ((part1 | part2) | part3) | part4
}

dpia := a if {
	a := input.assessments.dpia
	is_object(a)
} else := null

art35_problems := all if {
	part1 := {"no DPIA is on record (assessments.dpia)" |
		dpia == null
	}
	part2 := {"the DPIA has no reference recorded" |
		dpia != null
		ref := object.get(dpia, "ref", null)
		not lib.recorded(ref)
	}
	part3 := {"the DPIA has no status recorded" |
		dpia != null
		status := object.get(dpia, "status", null)
		not lib.recorded(status)
	}
	part4 := {t |
		dpia != null
		lib.recorded(dpia.status)
		status := lower(dpia.status)
		status != "approved"
		t := concat("", ["the DPIA's status is \"", dpia.status, "\", not approved"])
	}
	part5 := {"the DPIA has no approval time recorded" |
		dpia != null
		approved_at := object.get(dpia, "approved_at", null)
		not is_string(approved_at)
	}
	part6 := {t |
		dpia != null
		is_string(dpia.approved_at)
		dpia.approved_at > input.evaluated_at
		t := concat("", ["the DPIA was approved only at ", dpia.approved_at, ", after ", input.evaluated_at])
	}
	# A DPIA is reviewed when the risk may have changed (Art. 35(11)): one past its review date no
	# longer stands for the processing.
	part7 := {"the DPIA has no review date recorded (Art. 35(11))" |
		dpia != null
		review_due := object.get(dpia, "review_due", null)
		not is_string(review_due)
	}
	part8 := {t |
		dpia != null
		is_string(dpia.review_due)
		dpia.review_due < input.evaluated_at
		t := concat("", ["the DPIA's review was due at ", dpia.review_due, " (Art. 35(11))"])
	}
	# The controller seeks the advice of its DPO, where one is designated (Art. 35(2)).
	part9 := {"a DPO is designated and the DPIA records no DPO advice (dpo_advice_ref, Art. 35(2))" |
		dpia != null
		lib.config.dpo_designated == true
		dpo_advice_ref := object.get(dpia, "dpo_advice_ref", null)
		not lib.recorded(dpo_advice_ref)
	}
	part10 := {"the DPIA's adequacy rests on a declaration, but the DPIA does not say who declared it and when" |
		dpia != null
		not dpia_attributed
	}
	all := ((((((((part1 | part2) | part3) | part4) | part5) | part6) | part7) | part8) | part9) | part10
}

dpia_attributed if {
	lib.recorded(dpia.declared_by)
	lib.recorded(dpia.declared_at)
}

art35 := r if {
	count(dpia_triggers) == 0
	r := not_applicable("gdpr-art35", "no DPIA trigger applies (no special-category or children's data, no automated decision with legal effect, ML not configured as a new technology)")
} else := r if {
	count(art35_problems) > 0
	sorted_triggers := sort(dpia_triggers)
	triggers := concat(", ", sorted_triggers)
	sorted_problems := sort(art35_problems)
	problems := concat("; ", sorted_problems)
	msg := concat("", ["a DPIA is required (", triggers, "): ", problems])
	r := lib.result("gdpr-art35", "fail", "verified", msg, [digest], model_evidence)
} else := r if {
	sorted := sort(dpia_triggers)
	triggers := concat(", ", sorted)
	advice := dpo_advice_text(dpia)
	msg := concat("", ["the DPIA ", dpia.ref, " required for ", triggers, " was approved at ", dpia.approved_at, " and is due for review at ", dpia.review_due, advice, "; its adequacy is declared by ", dpia.declared_by, " at ", dpia.declared_at])
	r := lib.result("gdpr-art35", "pass", "declared", msg, [digest], model_evidence)
}

dpo_advice_text(a) := text if {
	lib.recorded(a.dpo_advice_ref)
	text := concat("", [", with the DPO's advice ", a.dpo_advice_ref])
} else := ""

# --- Art. 36: prior consultation ---------------------------------------------------------------

residual_risk := r if {
	dpia != null
	risk := object.get(dpia, "residual_risk", null)
	text := lib.text(risk)
	r := lower(text)
} else := ""

art36 := r if {
	residual_risk == "high"
	prior_consultation_ref := object.get(dpia, "prior_consultation_ref", null)
	not lib.recorded(prior_consultation_ref)
	recorded_ref := object.get(dpia, "ref", null)
	ref := lib.text(recorded_ref)
	msg := concat("", ["the DPIA ", ref, " leaves a high residual risk and no prior consultation of the supervisory authority is recorded (prior_consultation_ref, Art. 36(1))"])
	r := lib.result("gdpr-art36", "fail", "verified", msg, [digest], model_evidence)
} else := r if {
	residual_risk == "high"
	recorded_ref := object.get(dpia, "ref", null)
	ref := lib.text(recorded_ref)
	msg := concat("", ["the DPIA ", ref, " leaves a high residual risk, and the supervisory authority was consulted (", dpia.prior_consultation_ref, ")"])
	r := lib.result("gdpr-art36", "pass", "verified", msg, [digest], model_evidence)
} else := r if {
	residual_risk == ""
	count(dpia_triggers) > 0
	msg := "a DPIA is required and none records its residual risk (assessments.dpia.residual_risk), so whether the supervisory authority must be consulted first (Art. 36(1)) cannot be shown"
	r := lib.result("gdpr-art36", "fail", "verified", msg, [digest], model_evidence)
} else := r if {
	residual_risk == ""
	r := not_applicable("gdpr-art36", "no DPIA is required or on record, so no residual risk calls for prior consultation")
} else := r if {
	msg := concat("", ["the DPIA records a ", residual_risk, " residual risk: no prior consultation is required (Art. 36(1))"])
	r := not_applicable("gdpr-art36", msg)
}
