package governance.iso27001

import rego.v1

results := set()
