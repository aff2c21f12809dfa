-- What the headless Neovim test scripts share (nextedit.lua, fallback.lua): steps written to a
-- JSON result file, a watchdog, a coroutine runner with sleep()/poll() that give the main loop
-- back (so fed keys are really typed), captured notifications and a scripted vim.ui.select.
--
-- env: KENETIC_REPO, KENETIC_TEST_WS, KENETIC_TEST_RESULT (see init.lua).

vim.g.loaded_python3_provider = 0
vim.g.loaded_node_provider = 0
vim.g.loaded_perl_provider = 0
vim.g.loaded_ruby_provider = 0
vim.o.swapfile = false
vim.o.shortmess = vim.o.shortmess .. 'F'

local H = {}
H.repo = assert(os.getenv('KENETIC_REPO'), 'KENETIC_REPO')
H.ws = assert(os.getenv('KENETIC_TEST_WS'), 'KENETIC_TEST_WS')
H.result_path = assert(os.getenv('KENETIC_TEST_RESULT'), 'KENETIC_TEST_RESULT')
H.steps = {}

function H.save()
  local f = assert(io.open(H.result_path, 'w'))
  f:write(vim.json.encode({ steps = H.steps }))
  f:close()
end

function H.finish(code)
  H.save()
  for _, s in ipairs(H.steps) do
    io.stderr:write(('%s %s (%d ms)%s\n'):format(s.ok and 'PASS' or 'FAIL', s.name, s.ms, s.ok and '' or (': ' .. tostring(s.detail))))
  end
  vim.cmd(code == 0 and 'qall!' or ('cquit ' .. code))
end

local watchdog = assert(vim.uv.new_timer())
watchdog:start(55000, 0, vim.schedule_wrap(function()
  table.insert(H.steps, { name = 'watchdog', ok = false, ms = 55000, detail = 'the test did not finish in 55 s' })
  H.finish(2)
end))

function H.step(name, fn)
  local t0 = vim.uv.hrtime()
  local ok, detail = xpcall(fn, debug.traceback)
  local ms = math.floor((vim.uv.hrtime() - t0) / 1e6)
  if type(detail) ~= 'string' and detail ~= nil then
    detail = vim.inspect(detail)
  end
  table.insert(H.steps, { name = name, ok = ok, ms = ms, detail = detail })
  H.save()
  return ok
end

-- notifications the client shows: {msg, level}
H.messages = {}
local notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(H.messages, { msg = tostring(msg), level = level })
  return notify(msg, level, opts)
end

function H.messages_matching(pattern, from)
  local found = {}
  for i = from or 1, #H.messages do
    if H.messages[i].msg:match(pattern) then
      table.insert(found, H.messages[i])
    end
  end
  return found
end

-- vim.ui.select answers with H.pick(items, texts); the texts shown are kept in H.shown_items
H.shown_items = {}
H.pick = function(items)
  return items[1]
end
vim.ui.select = function(items, opts, on_choice)
  local texts = {}
  for _, item in ipairs(items) do
    table.insert(texts, (opts.format_item or tostring)(item))
  end
  H.shown_items = texts
  vim.schedule(function()
    local choice = H.pick(items, texts)
    on_choice(choice, choice and vim.fn.index(items, choice) + 1 or nil)
  end)
end
H.input = nil -- what vim.ui.input answers
vim.ui.input = function(_, on_confirm)
  vim.schedule(function()
    on_confirm(H.input)
  end)
end

function H.sleep(ms)
  local co = coroutine.running()
  vim.defer_fn(function()
    local ok, err = coroutine.resume(co)
    if not ok then
      table.insert(H.steps, { name = 'run', ok = false, ms = 0, detail = err })
      H.finish(1)
    end
  end, ms)
  coroutine.yield()
end

function H.poll(ms, cond, what)
  local deadline = vim.uv.now() + ms
  while true do
    local value = cond()
    if value then
      return value
    end
    if vim.uv.now() > deadline then
      error('timed out waiting for ' .. (type(what) == 'function' and what() or what), 2)
    end
    H.sleep(30)
  end
end

function H.client()
  return require('kenetic').client(0)
end

function H.request(method, params)
  local c = assert(H.client(), 'no kenetic client')
  local answer, err = c:request_sync(method, params or vim.empty_dict(), 5000, 0)
  if not answer then
    error(method .. ': ' .. tostring(err))
  end
  if answer.err then
    error(method .. ': ' .. (answer.err.message or vim.inspect(answer.err)))
  end
  return answer.result
end

function H.line(n)
  return vim.api.nvim_buf_get_lines(0, n - 1, n, false)[1]
end

--- Run `body` as a coroutine once Neovim has started; finish with the steps' verdict.
function H.run(body)
  vim.api.nvim_create_autocmd('VimEnter', {
    once = true,
    callback = function()
      vim.schedule(function()
        local co = coroutine.create(function()
          local ok, err = xpcall(body, debug.traceback)
          if not ok then
            table.insert(H.steps, { name = 'run', ok = false, ms = 0, detail = err })
            return H.finish(1)
          end
          H.finish(vim.iter(H.steps):all(function(s)
            return s.ok
          end) and 0 or 1)
        end)
        local ok, err = coroutine.resume(co)
        if not ok then
          table.insert(H.steps, { name = 'run', ok = false, ms = 0, detail = err })
          H.finish(1)
        end
      end)
    end,
  })
end

return H
