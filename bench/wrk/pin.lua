-- wrk script: POST /pin/ with a realistic pin (about 800 bytes) and a unique_id per request,
-- so keys spread over all partitions as real traffic does.
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end

local n = 0
local template = '{"index": %d, "unique_id": "bench-%d-%d-5b3b6a2e-4c7d-4f1e-9a2b", ' ..
  '"title": "Baby wedding winter holiday budget rustic ideas sleeve makeup handmade", ' ..
  '"description": "Decor tattoos small handmade sketch christmas bedroom wrapping yarn abstract kids investing watercolor birthday sketch nails abstract budget money christmas nails birthday kids", ' ..
  '"poster_name": "Sleeve routine", "follower_count": "35k", ' ..
  '"tag_list": "Vehicles street,Vehicles quote,Mountains,Destinations,Beach", ' ..
  '"is_image_or_video": "image", ' ..
  '"image_src": "https://i.pinimg.com/originals/95/3f/48/953f48f1a09f76b5a1d6d6d6d6d6d6d6.jpg", ' ..
  '"downloaded": 1, "save_location": "Local save in /data/travel", "category": "travel"}'
local headers = { ["Content-Type"] = "application/json" }

function request()
  n = n + 1
  local body = string.format(template, n % 11153, tid or 0, n)
  return wrk.format("POST", "/pin/", headers, body)
end
