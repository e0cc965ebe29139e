"""The ground floor shared by every safecity service: contracts, subjects, settings, pure stages."""
