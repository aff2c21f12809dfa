-- kenetic for Neovim 0.11+: options, and the few helpers the other modules share.
--
--   require('kenetic').setup {
--     cmd = { '/path/to/venv/bin/kenetic', 'serve' },   -- default: `kenetic serve` from PATH
--     settings = { capture = { idleGapMs = 1500 } },    -- sent as init_options and settings
--     inline = { enabled = true, accept = '<M-l>', dismiss = '<M-h>' },
--     next = { keys = { next = '<M-l>', dismiss = '<Esc>' } }, -- normal mode, only where free
--     episodes = true,                                  -- forward :!, :make and terminal exits
--   }
--
-- Without setup(), `vim.lsp.enable('kenetic')` works alone with the defaults below.

local M = {}

---@class kenetic.Config
M.config = {
  ---@type string[]|nil the server command; nil keeps lsp/kenetic.lua's `kenetic serve`
  cmd = nil,
  ---@type table kenetic's settings (capture.idleGapMs, capture.ignore, skills.minExamples, ...)
  settings = {},
  ---@type string[]|nil filetypes to attach to; nil keeps lsp/kenetic.lua's list
  filetypes = nil,
  ---@type string[]|nil
  root_markers = nil,
  --- call vim.lsp.enable('kenetic') from setup()
  enable = true,
  inline = {
    enabled = true,
    --- insert-mode keys; when no suggestion is shown they do what they did before
    accept = '<M-l>',
    dismiss = '<M-h>',
    debounce_ms = 150,
    hl_group = 'Comment',
  },
  --- next edits: the best site after a change is marked (sign + preview); keys in normal mode,
  --- each mapped only when the key has no mapping yet (see :h kenetic-next)
  next = {
    enabled = true,
    keys = { next = '<M-l>', accept = false, dismiss = '<Esc>' },
    sign = '➜',
    ---@type integer|nil the idle timer before asking; nil: inline.debounce_ms
    debounce_ms = nil,
  },
  --- forward the exits of :!, :make and terminal jobs as kenetic/didRunCommand
  episodes = true,
}

--- Suggestions on/off as the server last said (kenetic.toggleSuggestions): [uri] or session.
M.suggestions = { session = true, buffers = {} }
--- The last $/progress of the kenetic server ({title, message, percentage} or nil when done).
M.progress = nil

---@param opts kenetic.Config|nil
function M.setup(opts)
  opts = opts or {}
  M.config = vim.tbl_deep_extend('force', M.config, opts)
  -- lists are replaced, not merged index by index
  for _, key in ipairs({ 'cmd', 'filetypes', 'root_markers' }) do
    if opts[key] then
      M.config[key] = opts[key]
    end
  end
  local lsp = {}
  lsp.cmd = M.config.cmd
  lsp.filetypes = M.config.filetypes
  lsp.root_markers = M.config.root_markers
  if next(M.config.settings) then
    lsp.init_options = M.config.settings
    lsp.settings = { kenetic = M.config.settings }
  end
  vim.lsp.config('kenetic', lsp)
  if M.config.enable then
    vim.lsp.enable('kenetic')
  end
end

--- Next edits (kenetic.nextedit): jump to the marked site / accept it there, accept, dismiss.
function M.next()
  return require('kenetic.nextedit').next()
end
function M.accept()
  return require('kenetic.nextedit').accept()
end
function M.dismiss()
  return require('kenetic.nextedit').dismiss()
end

--- The kenetic client for a buffer (or any running one).
---@param bufnr integer|nil
---@return vim.lsp.Client|nil
function M.client(bufnr)
  local clients = vim.lsp.get_clients({ name = 'kenetic', bufnr = bufnr or 0 })
  if #clients == 0 then
    clients = vim.lsp.get_clients({ name = 'kenetic' })
  end
  return clients[1]
end

---@param msg string
---@param level integer|nil
function M.notify(msg, level)
  vim.notify('kenetic: ' .. msg, level or vim.log.levels.INFO, { title = 'kenetic' })
end

local METHOD_NOT_FOUND = -32601
local REQUEST_FAILED = -32803

--- The buffer's debounce timer from `timers`, made on first use and stopped: inline completions
--- and next edits each keep one per buffer.
---@param timers table<integer, uv.uv_timer_t>
---@param bufnr integer
---@return uv.uv_timer_t
function M.buffer_timer(timers, bufnr)
  local timer = timers[bufnr] or assert(vim.uv.new_timer())
  timers[bufnr] = timer
  timer:stop()
  return timer
end

--- Close and forget the buffer's timer, if it has one (the client detached).
---@param timers table<integer, uv.uv_timer_t>
---@param bufnr integer
function M.close_timer(timers, bufnr)
  if timers[bufnr] then
    timers[bufnr]:close()
    timers[bufnr] = nil
  end
end

--- Messages the server showed (window/showMessage) lately: an error answer that repeats one
--- is not shown a second time.
M.shown = {}

--- Tell the user why a request or command failed, once: a missing method says so plainly;
--- what could not be done (RequestFailed: too few outcomes to train, no LLM provider) is a
--- warning, not an error.
---@param what string
---@param err table
function M.report_error(what, err)
  local message = err.message or vim.inspect(err)
  if err.code == METHOD_NOT_FOUND then
    return M.notify(('this server does not offer %s yet'):format(what), vim.log.levels.WARN)
  end
  local shown = M.shown[message] or M.shown['kenetic: ' .. message]
  if shown and vim.uv.now() - shown < 10000 then
    return -- the server has just shown it
  end
  if err.code == REQUEST_FAILED then
    return M.notify((message:gsub('^kenetic: ', '')), vim.log.levels.WARN)
  end
  M.notify(('%s failed: %s'):format(what, message), vim.log.levels.ERROR)
end

--- For the statusline: `kenetic`, `kenetic: off`, the progress of mining or training, and the
--- marked next edit. e.g. `set statusline+=%{v:lua.require'kenetic'.status()}`
---@return string
function M.status()
  local client = M.client(0)
  if not client then
    return ''
  end
  local parts = { 'kenetic' }
  local uri = vim.uri_from_bufnr(0)
  local on = M.suggestions.buffers[uri]
  if on == nil then
    on = M.suggestions.session
  end
  if not on then
    table.insert(parts, 'off')
  end
  local p = M.progress
  if p then
    local title = (p.title or ''):gsub('^kenetic: ', '')
    table.insert(parts, title .. (p.percentage and (' ' .. p.percentage .. '%%') or ''))
  end
  local ok, nextedit = pcall(require, 'kenetic.nextedit')
  local m = ok and nextedit.current() or nil
  if m then
    table.insert(parts, ('next: %s:%d'):format(vim.fn.fnamemodify(vim.uri_to_fname(m.edit.uri), ':t'), m.edit.range.start.line + 1))
  end
  return table.concat(parts, ' · ')
end

--- Send a request to the kenetic client of the current buffer; `on_result(result, client)` runs
--- on success, and errors are shown to the user (a missing method says so plainly).
---@param method string
---@param params table|nil
---@param on_result fun(result: any, client: vim.lsp.Client)
---@param bufnr integer|nil
---@param on_done fun(err: table|nil)|nil runs after on_result, and on failure too
---@return integer|nil request id, vim.lsp.Client|nil
function M.request(method, params, on_result, bufnr, on_done)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    M.notify('the server is not running (see :checkhealth kenetic)', vim.log.levels.WARN)
    return nil
  end
  if not client:supports_method(method, bufnr) then
    M.notify(('this server does not support %s'):format(method), vim.log.levels.WARN)
    return nil
  end
  local ok, id = client:request(method, params or vim.empty_dict(), function(err, result)
    if err then
      M.report_error(method, err)
    else
      on_result(result, client)
    end
    if on_done then
      on_done(err)
    end
  end, bufnr)
  return ok and id or nil, client
end

--- Run one of the server's kenetic.* commands (workspace/executeCommand) after checking the
--- server offers it.
---@param command string
---@param args table|nil one argument object, or nil for none
---@param on_result fun(result: any, client: vim.lsp.Client)|nil
---@param bufnr integer|nil
function M.exec(command, args, on_result, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    M.notify('the server is not running (see :checkhealth kenetic)', vim.log.levels.WARN)
    return
  end
  local provider = client.server_capabilities.executeCommandProvider
  local offered = type(provider) == 'table' and provider.commands or {}
  if not vim.list_contains(offered, command) then
    M.notify(('this server does not offer %s yet'):format(command), vim.log.levels.WARN)
    return
  end
  local params = { command = command, arguments = args and { args } or nil }
  client:request('workspace/executeCommand', params, function(err, result)
    if err then
      M.report_error(command, err)
      return
    end
    if on_result then
      on_result(result, client)
    end
  end, bufnr)
end

return M
