"""trialreads: blinded independent central review (BICR) for oncology imaging trials."""
