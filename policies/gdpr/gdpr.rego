package governance.gdpr

import rego.v1

results := set()
