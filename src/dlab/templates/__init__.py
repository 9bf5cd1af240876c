"""Files dlab writes for the user (``dlab init``); they are copied, never imported by dlab."""
