# The promotion gate: which frameworks apply, every control's result, waivers, and the verdict.
#
# The decision document is data.governance.gate.decision. A framework applies by the jurisdictions
# of the personal data upstream of the model (EU/EEA: GDPR; AE: the UAE PDPL, unless the data is
# of a sector its Art. 2 leaves to other law); ISO/IEC 27001 always applies. A caller may narrow
# the frameworks (input.frameworks) but never widen them: the decision lists what applied and
# what was evaluated. Every control of an evaluated framework has exactly one result: a control
# no rule reported on is reported `not_evaluated`, never left out.
#
# The document is compact: results carry what the rules found; violations, warnings and waived
# name controls (and the waiver's ledger index). The service joins each result with the catalog
# entry of the same bundle (framework, article, title, enforcement in force) and sorts them by
# control id, so no engine's ordering shows.
package governance.gate

import data.governance.lib
import rego.v1

frameworks := ["gdpr", "iso27001", "uae_pdpl"]

# Upper-cased once, not per dataset.
gdpr_codes := {upper(x) | some x in lib.config.gdpr_jurisdictions}

pdpl_codes := {upper(x) | some x in lib.config.pdpl_jurisdictions}

excluded_sectors := {lower(s) | some s in lib.config.pdpl_excluded_sectors}

applicable contains "iso27001"

applicable contains "gdpr" if {
	some d in lib.personal_datasets
	some j in d.classification.jurisdictions
	upper(j) in gdpr_codes
}

applicable contains "uae_pdpl" if {
	some d in lib.personal_datasets
	some j in d.classification.jurisdictions
	upper(j) in pdpl_codes
	not pdpl_excluded(d)
}

pdpl_excluded(d) if lower(lib.text(d.classification.sector)) in excluded_sectors

requested := {f | some f in input.frameworks} if {
	input.frameworks != null
} else := {f | some f in frameworks}

evaluated := [f |
	some f in frameworks
	f in applicable
	f in requested
]

# Results of each evaluated framework's rules.
gdpr_reported := [r | "gdpr" in evaluated; some r in data.governance.gdpr.results]

pdpl_reported := [r | "uae_pdpl" in evaluated; some r in data.governance.uae_pdpl.results]

iso_reported := [r | "iso27001" in evaluated; some r in data.governance.iso27001.results]

reported := array.concat(array.concat(gdpr_reported, pdpl_reported), iso_reported)

reported_controls := {r.control | some r in reported}

# What a control of an evaluated framework reports when no rule reported on it.
silent := [lib.result(id, "not_evaluated", "verified", "no rule of the bundle reported on this control", [], []) |
	c := lib.catalog[id]
	c.framework in evaluated
	not id in reported_controls
]

results := array.concat(reported, silent)

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

# The failing results (control ids) by the enforcement in force.
failing_deny := [id |
	some r in results
	r.status == "fail"
	id := r.control
	lib.catalog[id].enforcement == "deny"
]

violations := [id |
	some id in failing_deny
	not waiver_for(id)
]

waived := [{"control": id, "waiver": w.index} |
	some id in failing_deny
	w := waiver_for(id)
]

warnings := [id |
	some r in results
	r.status == "fail"
	id := r.control
	lib.catalog[id].enforcement == "warn"
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
	"conflicted": sort(data.governance.iso27001.conflicted),
}
