"""Deployment template of ozon-seller-ops: resources.yaml and the Chalice package build."""
