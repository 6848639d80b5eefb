# The promotion gate: which frameworks apply, every control's result, waivers, and the verdict.
#
# The decision document is data.governance.gate.decision. A framework applies by the jurisdictions
# of the personal data upstream of the model (EU/EEA: GDPR; AE: the UAE PDPL, unless the data is
# of a sector its Art. 2 leaves to other law); ISO/IEC 27001 always applies. A caller may narrow
# the frameworks (input.frameworks) but never widen them: the decision lists what applied and
# what was evaluated. Every control of an evaluated framework has exactly one result: a control
# no rule reported on is reported `not_evaluated`, never left out.
package governance.gate

import data.governance.lib
import rego.v1

frameworks := ["gdpr", "iso27001", "uae_pdpl"]

applicable contains "iso27001"

applicable contains "gdpr" if {
	some d in lib.personal_datasets
	some j in lib.jurisdictions(d)
	j in {upper(x) | some x in lib.config.gdpr_jurisdictions}
}

applicable contains "uae_pdpl" if {
	some d in lib.personal_datasets
	some j in lib.jurisdictions(d)
	j in {upper(x) | some x in lib.config.pdpl_jurisdictions}
	not pdpl_excluded(d)
}

pdpl_excluded(d) if {
	sector := lower(lib.text(d.classification.sector))
	sector in {lower(s) | some s in lib.config.pdpl_excluded_sectors}
}

requested := {f | some f in input.frameworks} if {
	input.frameworks != null
} else := {f | some f in frameworks}

evaluated := sort([f |
	some f in frameworks
	f in applicable
	f in requested
])

# Results of each evaluated framework's rules.
reported contains r if {
	"gdpr" in evaluated
	some r in data.governance.gdpr.results
}

reported contains r if {
	"uae_pdpl" in evaluated
	some r in data.governance.uae_pdpl.results
}

reported contains r if {
	"iso27001" in evaluated
	some r in data.governance.iso27001.results
}

reported_by_control := {r.control: r | some r in reported}

# What a control of an evaluated framework reports when no rule reported on it.
silent(id) := lib.result(id, "not_evaluated", "verified", "no rule of the bundle reported on this control", [], [])

# One result per control of every evaluated framework, in control id order, with the catalog's
# framework, article, title and enforcement (the service resolves an operator's enforcement
# overrides into the catalog when it loads the bundle).
results := [full |
	some id in sort([x | lib.catalog[x]])
	c := lib.catalog[id]
	c.framework in evaluated
	r := object.get(reported_by_control, id, silent(id))
	full := {
		"control": id,
		"framework": c.framework,
		"article": c.article,
		"title": c.title,
		"status": r.status,
		"basis": r.basis,
		"message": r.message,
		"subjects": r.subjects,
		"evidence": r.evidence,
		"enforcement": c.enforcement,
	}
]

# --- waivers -----------------------------------------------------------------------------------

# A waiver counts while it has not expired, if its approver is neither the requester nor the
# person who started the pipeline (segregation of duties). The one place expiry is decided.
valid_waiver(w) if {
	w.expires_at > input.evaluated_at
	w.approver != input.requested_by
	w.approver != input.initiator
}

waiver_for(control) := w if {
	ws := [x |
		some x in input.waivers
		x.control == control
		valid_waiver(x)
	]
	count(ws) > 0
	w := ws[0]
}

failed(r) if r.status == "fail"

violations := [r |
	some r in results
	failed(r)
	r.enforcement == "deny"
	not waiver_for(r.control)
]

waived := [object.union(r, {"waiver": {"index": w.index, "approver": w.approver, "reason": w.reason, "expires_at": w.expires_at}}) |
	some r in results
	failed(r)
	r.enforcement == "deny"
	w := waiver_for(r.control)
]

warnings := [r |
	some r in results
	failed(r)
	r.enforcement == "warn"
]

allow := count(violations) == 0

decision := {
	"schema_version": 1,
	"allow": allow,
	"applicable": sort([f | some f in applicable]),
	"evaluated": evaluated,
	"results": results,
	"violations": violations,
	"warnings": warnings,
	"waived": waived,
}

