-- wrk script: POST /pin/ with realistic pins, cycling through PINS_FILE (one valid pin per line,
-- written by bench/ingest.sh from bench/gen_events.py), so keys spread over all partitions and
-- the text varies as real traffic does.
local bodies = {}
for line in io.lines(os.getenv("PINS_FILE")) do
  bodies[#bodies + 1] = line
end
local n = 0
local headers = { ["Content-Type"] = "application/json" }

function request()
  n = n + 1
  return wrk.format("POST", "/pin/", headers, bodies[(n % #bodies) + 1])
end
