"""Reading 1C exports: CommerceML 2.04-2.10 and 3.1, and CSV."""
