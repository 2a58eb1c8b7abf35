"""Use cases: each public method authorises, validates, runs one store transaction
and publishes what it committed. Services import only the domain and the ports."""
