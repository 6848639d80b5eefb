# Transfers of personal data to third countries (Ch. V, Arts. 44-46, 49).
#
# Personal data may be stored or processed in the EEA or a country with an adequacy decision
# (Art. 45) as configured; elsewhere it needs a GDPR transfer basis. A basis for another law
# (a PDPL Art. 22/23 case) does not count: each framework judges only its own bases.
package governance.gdpr

import data.governance.lib
import rego.v1

results contains ch5

# ISO 3166-1 alpha-2 codes as the configuration writes them (upper-case).
safe_countries := {c | some c in lib.config.eea} | {c | some c in lib.config.gdpr_adequacy}

# `allowed_regions`, when configured, further restricts where personal data may be: a location
# passes when its region or its country is listed.
restricted if is_array(lib.config.allowed_regions)

allowed_regions := {c | some r in lib.config.allowed_regions; is_string(r); c := upper(r)}

# A GDPR transfer basis: an adequacy decision for the destination (e.g. a framework certification
# under Art. 45), standard contractual clauses (Art. 46(2)(c)) or binding corporate rules
# (Art. 47), both with a transfer impact assessment, or an Art. 49 derogation; each referenced.
transfer_basis(b) if {
	m := mechanism(b)
	m in {"adequacy", "derogation"}
	lib.recorded(b.ref)
}

transfer_basis(b) if {
	m := mechanism(b)
	m in {"scc", "bcr"}
	lib.recorded(b.ref)
	lib.recorded(b.tia_ref)
}

mechanism(b) := m if {
	text := lib.text(b.mechanism)
	m := lower(text)
}

# [node, country] of each governed dataset whose storage country is recorded; [node, country] of
# each job whose location is.
stored := [[d.node, c] |
	some i in governed_at
	d := input.datasets[i]
	country := d.classification.location.country
	is_string(country)
	c := upper(country)
	c != ""
]

unlocated := governed - {s[0] | some s in stored}

located_jobs := [[j.node, c] |
	some j in input.jobs
	country := j.location.country
	is_string(country)
	c := upper(country)
	c != ""
]

outside := [s | some s in stored; not s[1] in safe_countries]

ch5_problems := all if {
	part1 := {p |
		some n in unlocated
		p := {"node": n, "why": [n, ": no storage location recorded (location.country), so a transfer cannot be ruled out"]}
	}
	part2 := {p |
		some s in outside
		some i in governed_at
		d := input.datasets[i]
		d.node == s[0]
		bases := transfers_of(d)
		valid := [b | some b in bases; transfer_basis(b)]
		count(valid) == 0
		recorded := transfer_text(bases)
		p := {"node": s[0], "why": [s[0], " is stored in ", s[1], ", outside the EEA and the adequacy list, with no GDPR transfer basis (", recorded, ")"]}
	}

	# Jobs process the data where they run. The input has no transfer basis for a job, so a job
	# outside the EEA and the adequacy list cannot be shown lawful.
	part3 := {p |
		count(governed) > 0
		some j in located_jobs
		not j[1] in safe_countries
		p := {"node": j[0], "why": [j[0], " runs in ", j[1], ", outside the EEA and the adequacy list, and a job has no transfer basis on record"]}
	}
	all := (part1 | part2) | (part3 | region_problems)
}

region_problems := set() if {
	not restricted
} else := all if {
	datasets := {p |
		some i in governed_at
		d := input.datasets[i]
		where := place(d.classification.location)
		not where.country in allowed_regions
		not where.region in allowed_regions
		p := {"node": d.node, "why": [d.node, " is stored in ", where.text, ", outside the allowed regions"]}
	}
	jobs := {p |
		count(governed) > 0
		some j in input.jobs
		where := place(j.location)
		where.country != ""
		not where.country in allowed_regions
		not where.region in allowed_regions
		p := {"node": j.node, "why": [j.node, " runs in ", where.text, ", outside the allowed regions"]}
	}
	all := datasets | jobs
}

# A location's country and region, upper-cased, and how a message shows it ("US (us-east-1)").
place(location) := where if {
	country := lib.text(location.country)
	region := lib.text(location.region)
	c := upper(country)
	r := upper(region)
	text := place_text(c, r)
	where := {"country": c, "region": r, "text": text}
}

place_text(c, r) := c if {
	r == ""
} else := text if {
	shown := lower(r)
	text := concat("", [c, " (", shown, ")"])
}

transfers_of(d) := t if {
	t := d.classification.transfer
	is_array(t)
} else := []

transfer_text(bases) := "none recorded" if {
	count(bases) == 0
} else := text if {
	described := [s |
		some b in bases
		s := basis_text(b)
	]
	listed := concat(", ", described)
	text := concat("", ["recorded: ", listed])
}

basis_text(b) := b.mechanism if {
	transfer_basis(b)
} else := text if {
	m := mechanism(b)
	m in {"scc", "bcr"}
	lib.recorded(b.ref)
	text := concat("", [b.mechanism, " without a transfer impact assessment (tia_ref)"])
} else := text if {
	m := mechanism(b)
	m in {"adequacy", "derogation", "scc", "bcr"}
	text := concat("", [b.mechanism, " without a reference"])
} else := text if {
	text := concat("", [b.mechanism, ", not a GDPR transfer basis"])
}

ch5 := r if {
	count(governed) == 0
	r := not_applicable("gdpr-ch5", "no personal data under the GDPR upstream of the model")
} else := r if {
	count(ch5_problems) > 0
	r := failing("gdpr-ch5", ch5_problems)
} else := r if {
	places := [t |
		some s in stored
		t := concat("", [s[0], " in ", s[1]])
	]
	sorted := sort(places)
	listed := concat(", ", sorted)
	moved := transferred_text(outside)
	jobs := [j[0] | some j in located_jobs]
	unrecorded := {j.node | some j in input.jobs} - {j | some j in jobs}
	where_jobs := jobs_text(unrecorded)
	msg := concat("", ["personal data is stored in the EEA or adequate countries", moved, ": ", listed, where_jobs])
	nodes := governed | {j | some j in jobs}
	subjects := sort(nodes)
	ev := evidence_for(nodes)
	r := lib.result("gdpr-ch5", "pass", "verified", msg, subjects, ev)
}

transferred_text(outside) := "" if {
	count(outside) == 0
} else := text if {
	moved := {t |
		some s in outside
		some i in governed_at
		d := input.datasets[i]
		d.node == s[0]
		bases := transfers_of(d)
		used := [b.mechanism | some b in bases; transfer_basis(b)]
		shown := concat("/", used)
		t := concat("", [s[0], " under ", shown])
	}
	sorted := sort(moved)
	listed := concat(", ", sorted)
	text := concat("", [", or under a GDPR transfer basis (", listed, ")"])
}

jobs_text(unrecorded) := "" if {
	count(unrecorded) == 0
} else := text if {
	sorted := sort(unrecorded)
	listed := concat(", ", sorted)
	text := concat("", ["; where the jobs ", listed, " run is not recorded"])
}
