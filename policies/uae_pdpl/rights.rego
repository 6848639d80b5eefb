# PDPL Art. 9 (reporting a breach), Arts. 15-17 (correction or erasure, restriction, stopping
# processing) and Art. 18 (processing and automated processing).
package governance.uae_pdpl

import data.governance.lib
import rego.v1

# --- Art. 9: reporting a personal data breach ----------------------------------------------------

# Every incident in the input is a personal-data breach on record (the incident register holds
# nothing else). Art. 9 asks for a report to the Data Office "immediately"; the period and the
# procedure are left to Executive Regulations not yet issued, so only the report's presence is
# checked, not its timing. Whether a breach prejudices the data subjects (and so must be reported
# to them too) cannot be read from the input.
breaches := [b |
	in_scope
	some inc in input.incidents
	nodes := sort([n | some n in inc.affects; n in scoped_nodes])
	count(nodes) > 0
	evidence := sort({i | some f in facts; f.node in nodes; some i in f.evidence})
	b := {"incident": inc, "nodes": nodes, "evidence": evidence}
]

art9_problems := [p |
	some b in breaches
	not lib.recorded(b.incident.authority_notified_at)
	why := concat("", ["a personal data breach (", b.incident.type, ") known since ", b.incident.aware_at, " is not reported to the UAE Data Office (no authority_notified_at)"])
	p := pdpl_problem(b.nodes, why, b.evidence)
]

art9 := r if {
	in_scope
	count(art9_problems) > 0
	r := pdpl_failed("pdpl-art9", art9_problems, "A personal data breach affecting UAE personal data is not reported to the Data Office")
} else := r if {
	in_scope
	count(breaches) == 0
	r := pdpl_passed("pdpl-art9", "verified", "No personal data breach on record affects an AE personal dataset")
} else := r if {
	in_scope
	reports := concat("; ", sort([line |
		some b in breaches
		nodes := concat(", ", b.nodes)
		subjects := pdpl_subjects_notice(b.incident)
		line := concat("", [nodes, " (", b.incident.type, ", aware ", b.incident.aware_at, ", reported ", b.incident.authority_notified_at, "; ", subjects, ")"])
	]))
	message := concat("", ["Every personal data breach affecting an AE personal dataset is reported to the UAE Data Office: ", reports])
	r := pdpl_passed("pdpl-art9", "verified", message)
} else := pdpl_out_of_scope("pdpl-art9")

pdpl_subjects_notice(inc) := t if {
	lib.recorded(inc.subjects_notified_at)
	t := concat("", ["data subjects notified ", inc.subjects_notified_at])
} else := "data subjects not notified, which Art. 9 requires only where the breach prejudices them"

# --- Arts. 15-17: correction or erasure, restriction, stopping processing ------------------------

# A data subject's request is applied through a watermark (the latest time fully applied); the
# version of a dataset the model read must not be newer than any of them. Times are compared as
# the fixed-width strings the input holds. Correction requests (Art. 15) have no watermark in the
# input and are not checked.
request_marks := input.requests if {
	is_object(input.requests)
} else := {}

watermarks := [m |
	some w in [
		{"kind": "erasure", "key": "erasure_applied_through", "article": "Art. 15"},
		{"kind": "restriction", "key": "restriction_applied_through", "article": "Art. 16"},
		{"kind": "stop-processing", "key": "stop_applied_through", "article": "Art. 17"},
	]
	at := object.get(request_marks, w.key, null)
	m := object.union(w, {"at": at})
]

unrecorded_marks := [p |
	in_scope
	some m in watermarks
	not is_string(m.at)
	why := concat("", ["no ", m.kind, " watermark is recorded (requests.", m.key, "): ", m.kind, " requests cannot be shown applied to the data read (", m.article, ")"])
	p := pdpl_problem(scoped_subjects, why, scoped_evidence)
]

unknown_snapshots := [p |
	some f in facts
	not is_string(f.snapshot_time)
	p := pdpl_problem([f.node], "no snapshot_time for the version read: requests cannot be shown applied to it", f.evidence)
]

marks_behind := [p |
	some f in facts
	is_string(f.snapshot_time)
	some m in watermarks
	is_string(m.at)
	m.at < f.snapshot_time
	why := concat("", [m.kind, " requests are applied only through ", m.at, ", before its snapshot of ", f.snapshot_time, " (", m.article, ")"])
	p := pdpl_problem([f.node], why, f.evidence)
]

art15_17_problems := array.concat(array.concat(unrecorded_marks, unknown_snapshots), marks_behind)

art15_17 := r if {
	in_scope
	count(art15_17_problems) > 0
	r := pdpl_failed("pdpl-art15-17", art15_17_problems, "Data subjects' erasure, restriction or stop-processing requests are not applied to the data the model read")
} else := r if {
	in_scope
	applied := concat(", ", [line | some m in watermarks; line := concat("", [m.kind, " through ", m.at])])
	snapshots := sort([f.snapshot_time | some f in facts])
	latest := snapshots[count(snapshots) - 1]
	message := concat("", ["Requests are applied to every AE personal dataset's snapshot (", applied, "; latest snapshot ", latest, "); correction requests have no watermark in the input and are not checked"])
	r := pdpl_passed("pdpl-art15-17", "verified", message)
} else := pdpl_out_of_scope("pdpl-art15-17")

# --- Art. 18: processing and automated processing ------------------------------------------------

# Art. 18 concerns decisions based solely on automated processing (profiling included) with legal
# consequences or a serious effect on the data subject.
automated_legal_effect if {
	input.model.use.automated_decision == true
	input.model.use.legal_or_similar_effect == true
}

art18_bases := {lower(b) | some b in lib.config.pdpl_art18_bases}

# The model's own lineage node (distance 0) records the Art. 18 basis and the human-review path.
model_facts := [m |
	some d in input.datasets
	d.distance == 0
	c := pdpl_classification(d)
	basis := pdpl_word(c, "pdpl_art18_basis")
	review := object.get(c, "human_review_ref", null)
	m := {"node": d.node, "evidence": d.evidence, "declaration": d.declaration, "basis": basis, "review": review}
]

# Only evaluated for a model with automated decisions of legal effect.
art18_problems contains p if {
	count(model_facts) == 0
	p := pdpl_model_problem("the model's own lineage node (distance 0) is not in the input, so no Art. 18 basis or human review path can be read")
}

art18_problems contains p if {
	some m in model_facts
	m.basis == ""
	p := pdpl_problem([m.node], "no Art. 18 basis (pdpl_art18_basis: contract, law or consent) for decisions with legal effect made by automated processing", m.evidence)
}

art18_problems contains p if {
	some m in model_facts
	m.basis != ""
	not m.basis in art18_bases
	why := concat("", ["pdpl_art18_basis '", m.basis, "' is not one of config pdpl_art18_bases"])
	p := pdpl_problem([m.node], why, m.evidence)
}

art18_problems contains p if {
	some m in model_facts
	not lib.recorded(m.review)
	p := pdpl_problem([m.node], "no path for a data subject to ask for human review of an automated decision (human_review_ref)", m.evidence)
}

art18 := r if {
	in_scope
	automated_legal_effect
	count(art18_problems) > 0
	r := pdpl_failed("pdpl-art18", art18_problems, "The model makes automated decisions with legal effect without an Art. 18 basis or a human review path")
} else := r if {
	in_scope
	automated_legal_effect
	bases := concat(", ", sort({m.basis | some m in model_facts}))
	reviews := concat(", ", sort({m.review | some m in model_facts}))
	who := pdpl_declarants(model_facts)
	message := concat("", ["Automated decisions with legal effect rest on ", bases, " with a human review path (", reviews, "), declared by ", who])
	subjects := sort([m.node | some m in model_facts])
	evidence := sort({i | some m in model_facts; some i in m.evidence})
	r := lib.result("pdpl-art18", "pass", "declared", message, subjects, evidence)
} else := r if {
	in_scope
	r := lib.result("pdpl-art18", "not_applicable", "verified", "The model's decisions are not declared both automated and of legal or similarly serious effect (model.use)", [input.model.digest], [])
} else := pdpl_out_of_scope("pdpl-art18")
