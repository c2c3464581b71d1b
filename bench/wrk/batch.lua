-- wrk script: POST a file of NDJSON pins (BATCH_FILE) to /pins in every request.
local f = assert(io.open(os.getenv("BATCH_FILE"), "rb"))
wrk.method = "POST"
wrk.path = "/pins"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/x-ndjson"
