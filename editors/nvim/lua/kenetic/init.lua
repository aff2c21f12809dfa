-- kenetic for Neovim 0.11+: options, and the few helpers the other modules share.
--
--   require('kenetic').setup {
--     cmd = { '/path/to/venv/bin/kenetic', 'serve' },   -- default: `kenetic serve` from PATH
--     settings = { capture = { idleGapMs = 1500 } },    -- sent as init_options and settings
--     inline = { enabled = true, accept = '<M-l>', dismiss = '<M-h>' },
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
  --- forward the exits of :!, :make and terminal jobs as kenetic/didRunCommand
  episodes = true,
}

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

--- Send a request to the kenetic client of the current buffer; `on_result(result, client)` runs
--- on success, and errors are shown to the user (a missing method says so plainly).
---@param method string
---@param params table|nil
---@param on_result fun(result: any, client: vim.lsp.Client)
---@param bufnr integer|nil
---@return integer|nil request id, vim.lsp.Client|nil
function M.request(method, params, on_result, bufnr)
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
      if err.code == METHOD_NOT_FOUND then
        M.notify(('this server does not offer %s yet'):format(method), vim.log.levels.WARN)
      else
        M.notify(('%s failed: %s'):format(method, err.message or vim.inspect(err)), vim.log.levels.ERROR)
      end
      return
    end
    on_result(result, client)
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
      M.notify(('%s failed: %s'):format(command, err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    if on_result then
      on_result(result, client)
    end
  end, bufnr)
end

return M
