"""The REST API: presentation only. Views call selectors (reads) and services (writes);
blinding and roles are decided by ``trialreads.access``, never here."""
