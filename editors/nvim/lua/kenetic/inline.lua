-- Inline suggestions (textDocument/inlineCompletion).
--
-- Neovim with `vim.lsp.inline_completion` (0.12+) does it natively: we only enable it and map
-- the accept key. On 0.11 the first item is shown as virtual text at the cursor, accepted with
-- `inline.accept` (default <M-l>) and dismissed with `inline.dismiss` (default <M-h>), each
-- mapped only where the key has no mapping yet; with nothing shown they do what Neovim does. Accepting runs the item's command
-- (kenetic.recordOutcome), so the server learns what was taken.

local kenetic = require('kenetic')

local M = {}

local ns = vim.api.nvim_create_namespace('kenetic.inline')
---@type table<integer, {item: table, client: vim.lsp.Client, row: integer, col: integer, tick: integer}>
local shown = {}
local timers = {} ---@type table<integer, uv.uv_timer_t>
local generation = {} ---@type table<integer, integer>

local function opts()
  return kenetic.config.inline
end

local function text_of(item)
  local text = item.insertText
  if type(text) == 'table' then
    -- a snippet: show and insert its plain text
    text = text.value or ''
    text = text:gsub('%$%b{}', function(s)
      return s:match('^%${%d+:(.*)}$') or ''
    end):gsub('%$%d+', '')
  end
  return text or ''
end

function M.clear(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  shown[bufnr] = nil
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  end
end

--- What is shown in the buffer now (for tests and statuslines).
function M.current(bufnr)
  return shown[bufnr or vim.api.nvim_get_current_buf()]
end

--- The part of the item's text still to be typed at the cursor.
local function ghost(bufnr, item, client, row, col)
  local text = text_of(item)
  if item.range then
    local start = item.range.start
    if start.line == row then
      local scol = vim.lsp.util._get_line_byte_from_position(bufnr, start, client.offset_encoding)
      local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
      local typed = line:sub(scol + 1, col)
      if vim.startswith(text, typed) then
        return text:sub(#typed + 1)
      end
    end
  end
  return text
end

local function show(bufnr, client, item, row, col)
  M.clear(bufnr)
  local rest = ghost(bufnr, item, client, row, col)
  if rest == '' then
    return
  end
  local lines = vim.split(rest, '\n', { plain = true })
  local hl = opts().hl_group
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i], hl } }
  end
  vim.api.nvim_buf_set_extmark(bufnr, ns, row, col, {
    virt_text = { { lines[1], hl } },
    virt_text_pos = 'inline',
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    hl_mode = 'combine',
  })
  shown[bufnr] = { item = item, client = client, row = row, col = col, tick = vim.b[bufnr].changedtick }
end

--- Ask the server for inline completions at the cursor now.
function M.request(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = kenetic.client(bufnr)
  if not client or not client.server_capabilities.inlineCompletionProvider then
    return
  end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = 2 } -- Automatic
  local cursor = vim.api.nvim_win_get_cursor(0)
  local tick = vim.b[bufnr].changedtick
  generation[bufnr] = (generation[bufnr] or 0) + 1
  local gen = generation[bufnr]
  client:request('textDocument/inlineCompletion', params, function(err, result)
    if err or gen ~= generation[bufnr] or not vim.api.nvim_buf_is_valid(bufnr) then
      return
    end
    -- stale: the user typed on or moved
    if vim.b[bufnr].changedtick ~= tick or not vim.api.nvim_get_mode().mode:match('^i') then
      return
    end
    local now = vim.api.nvim_win_get_cursor(0)
    if now[1] ~= cursor[1] or now[2] ~= cursor[2] then
      return
    end
    local items = type(result) == 'table' and (result.items or result) or {}
    if items[1] then
      show(bufnr, client, items[1], cursor[1] - 1, cursor[2])
    else
      M.clear(bufnr)
    end
  end, bufnr)
end

--- Accept what is shown; false when nothing is.
function M.accept(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local s = shown[bufnr]
  if not s or s.tick ~= vim.b[bufnr].changedtick then
    M.clear(bufnr)
    return false
  end
  M.clear(bufnr)
  local item, client = s.item, s.client
  local text = text_of(item)
  local range = item.range
  if not range then
    local pos = vim.lsp.util.make_position_params(0, client.offset_encoding).position
    range = { start = pos, ['end'] = pos }
  end
  vim.lsp.util.apply_text_edits({ { range = range, newText = text } }, bufnr, client.offset_encoding)
  -- the cursor goes to the end of what was inserted
  local lines = vim.split(text, '\n', { plain = true })
  local srow = range.start.line
  local scol = vim.lsp.util._get_line_byte_from_position(bufnr, range.start, client.offset_encoding)
  local erow = srow + #lines - 1
  local ecol = (#lines == 1 and scol or 0) + #lines[#lines]
  pcall(vim.api.nvim_win_set_cursor, 0, { erow + 1, ecol })
  if item.command then
    client:exec_cmd(item.command, { bufnr = bufnr })
  end
  return true
end

--- Is `lhs` free in insert mode for this buffer (no global or buffer mapping of the user's)?
local function free(bufnr, lhs)
  return vim.api.nvim_buf_call(bufnr, function()
    return next(vim.fn.maparg(lhs, 'i', false, true)) == nil
  end)
end

local function map(bufnr, lhs, fn)
  -- only a free key: a mapping the user (or another plugin, e.g. copilot.lua) has stays theirs
  if not lhs or lhs == '' or not free(bufnr, lhs) then
    return
  end
  -- not an expr mapping: accepting changes the text, which expr mappings may not do. The key was
  -- free, so with nothing shown it does what Neovim does with it.
  vim.keymap.set('i', lhs, function()
    if not fn() then
      vim.api.nvim_feedkeys(vim.keycode(lhs), 'n', false)
    end
  end, { buffer = bufnr, desc = 'kenetic: inline suggestion' })
end

--- Turn inline suggestions on for a buffer the kenetic client attached to.
function M.attach(bufnr, client)
  local o = opts()
  if not o.enabled or not client.server_capabilities.inlineCompletionProvider then
    return
  end
  local native = vim.lsp.inline_completion
  if native and native.enable then
    native.enable(true, { bufnr = bufnr })
    if o.accept and o.accept ~= '' and free(bufnr, o.accept) then
      vim.keymap.set('i', o.accept, function()
        if not native.get() then
          return o.accept
        end
      end, { buffer = bufnr, expr = true, desc = 'kenetic: accept inline suggestion' })
    end
    return
  end
  local group = vim.api.nvim_create_augroup('kenetic.inline.' .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ 'TextChangedI', 'TextChangedP', 'InsertEnter' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.clear(bufnr)
      local timer = kenetic.buffer_timer(timers, bufnr)
      timer:start(o.debounce_ms, 0, vim.schedule_wrap(function()
        if vim.api.nvim_get_current_buf() == bufnr and vim.api.nvim_get_mode().mode:match('^i') then
          M.request(bufnr)
        end
      end))
    end,
  })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave', 'CursorMovedI' }, {
    group = group,
    buffer = bufnr,
    callback = function(ev)
      local s = shown[bufnr]
      if ev.event == 'CursorMovedI' and s then
        local cur = vim.api.nvim_win_get_cursor(0)
        if cur[1] - 1 == s.row and cur[2] == s.col then
          return
        end
      end
      M.clear(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd('LspDetach', {
    group = group,
    buffer = bufnr,
    callback = function(ev)
      if ev.data and ev.data.client_id == client.id then
        M.clear(bufnr)
        pcall(vim.api.nvim_del_augroup_by_id, group)
        kenetic.close_timer(timers, bufnr)
      end
    end,
  })
  map(bufnr, o.accept, function()
    return M.accept(bufnr)
  end)
  map(bufnr, o.dismiss, function()
    if shown[bufnr] then
      M.clear(bufnr)
      return true
    end
    return false
  end)
end

return M
