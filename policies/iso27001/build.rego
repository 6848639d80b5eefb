# How the artifact was built, signed and tested: A.8.24, A.8.25, A.8.29, A.8.8 and A.8.31.
#
# Attestations reach the input already verified in Python (failed verifications are left out),
# so "verified" here means: present in input.attestations.
package governance.iso27001

import data.governance.lib
import rego.v1

# --- A.8.24 Use of cryptography ------------------------------------------------------------------

# Signers trusted for model signatures ({issuer, identity}); none configured trusts any signer
# whose signature verified.
allowed_signers := l if {
	s := lib.config.allowed_signers
	is_object(s)
	l := s["model-signature"]
	is_array(l)
} else := []

model_signatures := [a |
	some a in input.attestations
	a.purpose == "model-signature"
	digest in a.subject_digests
]

trusted_signatures := [a |
	some a in model_signatures
	trusted_signer(a, allowed_signers)
]

trusted_signer(_, signers) if count(signers) == 0

trusted_signer(a, signers) if {
	some s in signers
	s.issuer == a.signer_issuer
	s.identity == a.signer_identity
}

signer(a) := concat("", [shown(a.signer_identity), " (issuer ", shown(a.signer_issuer), ")"])

tlog_note(a) := concat("", [", transparency log index ", num(a.tlog_index)]) if {
	is_number(a.tlog_index)
} else := ""

signer_policy_note := " (no allowed signers are configured: any verified signer is accepted)" if {
	count(allowed_signers) == 0
} else := ""

cryptography := lib.result("iso-a8.24", "pass", "verified", msg, [digest], indexes) if {
	count(trusted_signatures) > 0
	indexes := sort({a.index | some a in trusted_signatures})
	first := trusted_signatures[0]
	who := signer(first)
	log := tlog_note(first)
	msg := concat("", ["the model digest is signed (entry ", num(first.index), ") by ", who, log, signer_policy_note])
} else := lib.result("iso-a8.24", "fail", "verified", msg, [digest], indexes) if {
	count(model_signatures) > 0
	indexes := sort({a.index | some a in model_signatures})
	who := sort({s | some a in model_signatures; s := signer(a)})
	msg := concat("", ["the model's signatures are by signers not allowed for model signatures: ", concat(", ", who)])
} else := lib.result("iso-a8.24", "fail", "verified", msg, [digest], []) if {
	msg := concat("", ["no verified model-signature attestation covers the model digest ", digest])
}

# --- A.8.25 (+ A.8.4) Secure development life cycle ----------------------------------------------

approved_builders := b if {
	b := lib.config.approved_builders
	is_array(b)
} else := []

provenance := [a |
	some a in input.attestations
	is_string(a.predicate_type)
	startswith(a.predicate_type, "https://slsa.dev/provenance/")
	digest in a.subject_digests
]

approved_provenance := [a |
	some a in provenance
	is_string(a.builder_id)
	approved_builder(a.builder_id, approved_builders)
]

approved_builder(id, approved) if id in approved

# Builder ids name the builder's release after the last "@" (…/generator_generic_slsa3.yml@refs/
# tags/v2.0.0): the builder is approved whatever its release.
approved_builder(id, approved) if {
	parts := split(id, "@")
	n := count(parts)
	n > 1
	name := concat("@", array.slice(parts, 0, n - 1))
	name in approved
}

# A.8.4 asks that the training code come from a protected ref of an approved repository; the
# configuration lists no approved repositories, so that part is reported, not judged.
source_note(a) := concat("", ["; source ", shown(a.source_repo), " at ", shown(a.source_ref), " (A.8.4 not checked: no approved source repositories are configured)"])

secure_development := lib.result("iso-a8.25", "pass", "verified", msg, [digest], indexes) if {
	count(approved_provenance) > 0
	indexes := sort({a.index | some a in approved_provenance})
	first := approved_provenance[0]
	note := source_note(first)
	msg := concat("", ["SLSA provenance (entry ", num(first.index), ", ", first.predicate_type, ") from the approved builder ", first.builder_id, " covers the model digest", note])
} else := lib.result("iso-a8.25", "fail", "verified", msg, [digest], indexes) if {
	count(provenance) > 0
	indexes := sort({a.index | some a in provenance})
	builders := sort({b | some a in provenance; b := shown(a.builder_id)})
	msg := concat("", ["the model's SLSA provenance comes from builders that are not approved: ", concat(", ", builders)])
} else := lib.result("iso-a8.25", "fail", "verified", msg, [digest], []) if {
	msg := concat("", ["no verified SLSA provenance attestation covers the model digest ", digest])
}

# --- A.8.29 Security testing in development and acceptance ---------------------------------------

required_tests := t if {
	rt := lib.config.required_tests
	is_object(rt)
	t := rt[input.target.environment]
	is_array(t)
} else := t if {
	rt := lib.config.required_tests
	is_object(rt)
	t := rt["*"]
	is_array(t)
} else := []

required_set := {t | some t in required_tests}

tests_run := {t.name | some t in input.tests}

testing_findings := (missing | required_failed) | error_failed if {
	missing := {[digest, msg] |
		some name in required_tests
		not name in tests_run
		msg := concat("", ["the required test ", name, " did not run"])
	}
	required_failed := {[digest, msg] |
		some t in input.tests
		t.name in required_set
		t.status != "pass"
		msg := concat("", ["the required test ", t.name, ": ", t.status])
	}

	# A test reported at severity error blocks when it fails or was skipped, required or not.
	error_failed := {[digest, msg] |
		some t in input.tests
		not t.name in required_set
		t.severity == "error"
		t.status != "pass"
		msg := concat("", ["the test ", t.name, " (severity error): ", t.status])
	}
}

warn_tests := sort({s |
	some t in input.tests
	t.severity == "warn"
	not t.name in required_set
	t.status != "pass"
	s := concat("", [t.name, ": ", t.status])
})

warn_note := concat("", ["; warn-severity tests not passing (reported only): ", concat(", ", warn_tests)]) if {
	count(warn_tests) > 0
} else := ""

testing_pass_message := msg if {
	count(required_tests) > 0
	names := concat(", ", required_tests)
	msg := concat("", ["every test required for ", input.target.environment, " passed (", names, ") and no error-severity test failed or was skipped", warn_note])
} else := msg if {
	msg := concat("", ["no test is required for ", input.target.environment, " and no error-severity test failed or was skipped", warn_note])
}

testing_evidence := sort({t.index |
	some t in input.tests
	t.index != null
})

security_testing := judged("iso-a8.29", testing_findings, "verified", testing_pass_message, [digest], testing_evidence)

# --- A.8.8 (+ A.8.28) Technical vulnerabilities; secure coding -----------------------------------

vulnerability_findings := (uncounted_levels | found) | sast if {
	uncounted_levels := {[digest, msg] |
		some level in ["critical", "high"]
		input.scans[level] == null
		msg := concat("", ["the scan records no count of ", level, "-severity vulnerabilities"])
	}
	found := {[digest, msg] |
		some level in ["critical", "high"]
		n := input.scans[level]
		is_number(n)
		n > 0
		msg := concat("", [level, "-severity vulnerabilities: ", num(n)])
	}
	sast := {[digest, msg] |
		input.scans.sast_status != "pass"
		msg := concat("", ["the SAST status is ", shown(input.scans.sast_status), ", not pass"])
	}
}

# The scans carry no ledger index in the input document, so no evidence is cited.
vulnerabilities := lib.result("iso-a8.8", "not_evaluated", "verified", "no vulnerability or SAST scan is recorded for the model", [digest], []) if {
	input.scans == null
} else := judged("iso-a8.8", vulnerability_findings, "verified", "no critical or high vulnerabilities, and SAST passed (finding SLAs are not recorded, so any open finding counts)", [digest], [])

# --- A.8.31 Separation of development, test and production environments --------------------------

production_markers := {m |
	some x in lib.config.production_namespace_markers
	is_string(x)
	m := lower(x)
}

separation_findings := in_production | rebuilt if {
	in_production := {[j.node, msg] |
		some j in build_jobs
		ns := lower(j.namespace)
		hits := sort({m | some m in production_markers; contains(ns, m)})
		count(hits) > 0
		msg := concat("", [j.node, " ran in namespace ", j.namespace, ", a production namespace (", concat(", ", hits), "): the model was not built outside production"])
	}

	# Promotion by digest (no rebuild): what the lineage says it built is what is promoted.
	rebuilt := {[digest, msg] |
		some d in input.declared_digests
		d.digest != digest
		msg := concat("", ["entry ", num(d.index), " declares the model's digest as ", d.digest, ": the artifact being promoted (", digest, ") is not the one built"])
	}
}

declared_digest_indexes := [d.index | some d in input.declared_digests]

separation_pass_message := msg if {
	namespaces := concat(", ", sort({j.namespace | some j in build_jobs}))
	msg := concat("", ["built in non-production namespaces (", namespaces, "); ", num(count(declared_digest_indexes)), " lineage declaration(s) of the model's digest agree with the promoted digest"])
}

separation_evidence := array.concat(build_run_evidence, [i |
	some i in declared_digest_indexes
	not i in build_run_evidence
])

separation := lib.result("iso-a8.31", "not_evaluated", "verified", "no job upstream of the model is recorded, so where it was built cannot be told", [digest], separation_evidence) if {
	count(build_jobs) == 0
	count(separation_findings) == 0
} else := judged("iso-a8.31", separation_findings, "verified", separation_pass_message, build_job_nodes, separation_evidence)
