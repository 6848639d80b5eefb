package governance.uae_pdpl

import rego.v1

results := set()
