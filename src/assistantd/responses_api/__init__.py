"""/responses: the Responses API on the same store and upstream as the Assistants API.

(Named `responses_api` because `assistantd.responses` holds the HTTP response classes.)
"""
